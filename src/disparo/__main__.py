"""Allow `python -m disparo`."""

from disparo.cli import main

raise SystemExit(main())

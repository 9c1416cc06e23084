"""`disparo demo`: the whole product on one machine (`run`), seeded through its real paths
(`seed`)."""

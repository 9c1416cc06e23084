"""Storage: tables, named queries, engine set-up and migrations. The only package with SQL."""

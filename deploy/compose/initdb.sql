-- PostgreSQL bootstrap for docker-compose.yml (runs once, on an empty data directory, from
-- /docker-entrypoint-initdb.d). One database and one login role per service; each role owns only
-- its own database and nobody else may connect to it. Development passwords only: the services
-- refuse them outside ENVIRONMENT=development. In Kubernetes the databases are provisioned by the
-- platform and the URLs come from Secrets (see docs/operations.md).

CREATE ROLE carbon_ingest LOGIN PASSWORD 'dev-ingest';
CREATE DATABASE carbon_ingest OWNER carbon_ingest;
REVOKE ALL ON DATABASE carbon_ingest FROM PUBLIC;

CREATE ROLE carbon_accounting LOGIN PASSWORD 'dev-accounting';
CREATE DATABASE carbon_accounting OWNER carbon_accounting;
REVOKE ALL ON DATABASE carbon_accounting FROM PUBLIC;

CREATE ROLE carbon_rating LOGIN PASSWORD 'dev-rating';
CREATE DATABASE carbon_rating OWNER carbon_rating;
REVOKE ALL ON DATABASE carbon_rating FROM PUBLIC;

CREATE ROLE carbon_lending LOGIN PASSWORD 'dev-lending';
CREATE DATABASE carbon_lending OWNER carbon_lending;
REVOKE ALL ON DATABASE carbon_lending FROM PUBLIC;

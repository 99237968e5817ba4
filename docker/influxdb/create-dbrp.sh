#!/bin/bash
# Run once by the influxdb:2.x image, right after its first setup (/docker-entrypoint-initdb.d/): map the InfluxQL
# database "s2s" (retention policy "autogen") onto the bucket the setup created, so that the dashboards, which
# query InfluxQL (DESIGN §6: 1.8, 2.x and 3.x all serve it), read the points the tester writes there.
# The entrypoint exports the bucket's id, and the influx CLI is already logged in with the admin token.
set -euo pipefail

influx v1 dbrp create \
  --org-id "${DOCKER_INFLUXDB_INIT_ORG_ID}" \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db s2s \
  --rp autogen \
  --default
echo "create-dbrp: InfluxQL database s2s/autogen -> bucket ${DOCKER_INFLUXDB_INIT_BUCKET} (${DOCKER_INFLUXDB_INIT_BUCKET_ID})"

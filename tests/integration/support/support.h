// Everything integration tests use to drive real processes: Redis clusters, the cxproxy
// binary, HTTP and RESP clients.
#pragma once

#include "tests/integration/support/cxproxy_process.h"
#include "tests/integration/support/fault_shim.h"
#include "tests/integration/support/http_client.h"
#include "tests/integration/support/metrics_scrape.h"
#include "tests/integration/support/process.h"
#include "tests/integration/support/redis_cluster.h"
#include "tests/integration/support/redis_sentinel.h"
#include "tests/integration/support/resp_client.h"
#include "tests/integration/support/test_pki.h"

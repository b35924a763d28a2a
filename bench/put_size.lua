-- wrk script for `make bench-curves`: PUT a value of BENCH_VALUE_BYTES bytes (the URL names the key).
local n = tonumber(os.getenv("BENCH_VALUE_BYTES") or "100")
wrk.method = "PUT"
wrk.body = string.rep("v", n)
wrk.headers["Content-Type"] = "application/octet-stream"

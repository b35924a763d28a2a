-- wrk script for `make bench`: POST the JSON in $BENCH_BODY (a /v1/cmd command, a
-- /v1/pipeline batch, or an Upstash command array) to the URL.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"

-- wrk script for `make bench`: PUT a 100-byte value (the URL names the key).
wrk.method = "PUT"
wrk.body = string.rep("v", 100)
wrk.headers["Content-Type"] = "application/octet-stream"

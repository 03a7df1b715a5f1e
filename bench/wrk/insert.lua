-- POST 100 rows (return=minimal).
wrk.method = "POST"
wrk.headers["apikey"] = os.getenv("BENCH_APIKEY")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BENCH_BODY")

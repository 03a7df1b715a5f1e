-- GET with the caller's apikey and user token.
wrk.headers["apikey"] = os.getenv("BENCH_APIKEY")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

-- GET one row by id, ids spread over the caller's org (ids = 3 mod 10).
wrk.headers["apikey"] = os.getenv("BENCH_APIKEY")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
math.randomseed(os.time())
request = function()
  local id = 3 + 10 * math.random(0, 9999)
  return wrk.format("GET", "/rest/v1/bench_items?id=eq." .. id)
end

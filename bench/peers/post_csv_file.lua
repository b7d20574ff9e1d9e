-- wrk script: every request is POST /invocations with the CSV file named by $MLS_BENCH_CSV as its body
-- (many rows per request), Accept: text/csv so every server answers one short line per row.
--   MLS_BENCH_CSV=rows.csv wrk -t2 -c16 -d10s -s bench/peers/post_csv_file.lua http://127.0.0.1:PORT
local path = os.getenv("MLS_BENCH_CSV") or error("set MLS_BENCH_CSV to a CSV file")
local f = assert(io.open(path, "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = "/invocations"
wrk.headers["Content-Type"] = "text/csv"
wrk.headers["Accept"] = "text/csv"

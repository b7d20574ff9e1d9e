-- wrk script: every request is POST /invocations with one HTRU2 row as text/csv (keep-alive is wrk's default).
--   wrk -t2 -c16 -d10s -s bench/peers/post_csv.lua http://127.0.0.1:PORT
-- No response() callback on purpose: it would make wrk parse every reply in Lua and slow the client.
-- run.sh checks wrk's "Non-2xx or 3xx responses" line instead.
wrk.method = "POST"
wrk.path = "/invocations"
wrk.headers["Content-Type"] = "text/csv"
wrk.headers["Accept"] = "application/json"
wrk.body = "140.5625,55.68378214,-0.234571412,-0.699648398,3.199832776,19.11042633,7.975531794,74.24222492\n"

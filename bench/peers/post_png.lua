-- wrk script: every request is POST /invocations with one 28x28 gray PNG (keep-alive is wrk's default).
--   MLS_BENCH_PNG=image.png wrk -t2 -c16 -d10s -s bench/peers/post_png.lua http://127.0.0.1:PORT
-- The PNG is read from a file named by the environment (bench/run.sh writes it from the PneumoniaMNIST
-- validation set) because a Lua string literal of binary bytes would be unreadable and fragile.
-- No response() callback on purpose: it would make wrk parse every reply in Lua and slow the client.
local path = os.getenv("MLS_BENCH_PNG") or error("set MLS_BENCH_PNG to the PNG file to post")
local file = assert(io.open(path, "rb"))
local png = file:read("*a")
file:close()

wrk.method = "POST"
wrk.path = "/invocations"
wrk.headers["Content-Type"] = "image/png"
wrk.headers["Accept"] = "application/json"
wrk.body = png

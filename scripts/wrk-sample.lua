-- wrk script for the server's load figure: n = 100 draws for one two_moons x.
--   amortize-infer serve --models DIR --addr 127.0.0.1:8080 2>/dev/null &
--   wrk -t1 -c64 -d15s --latency -s scripts/wrk-sample.lua http://127.0.0.1:8080/v1/models/two_moons/sample
wrk.method = "POST"
wrk.body = '{"x":[0.1,-0.2],"n":100}'
wrk.headers["Content-Type"] = "application/json"

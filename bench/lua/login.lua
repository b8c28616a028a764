-- The login flood: every request is a valid sign-in form POST. A CSRF token is an HMAC bound
-- to the pre-session `csrf` cookie and can be reused, so one cookie/token pair fetched with
-- curl beforehand (bench/run.sh) is sent on every request, with the Origin header that the
-- CSRF check wants. Inputs come from the environment:
--   LOGIN_BODY    the urlencoded form (username, password, csrf_token)
--   LOGIN_COOKIE  "csrf=..." (the Cookie header)
--   LOGIN_ORIGIN  "http://127.0.0.1:PORT"
-- Statuses are counted per response (303 = signed in, 503 = bcrypt queue full), which is
-- affordable here: sign-ins are bounded by bcrypt, at most a few dozen per second.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local function need(name)
   local v = os.getenv(name)
   if v == nil or v == "" then
      error("login.lua: environment variable " .. name .. " is not set")
   end
   return v
end

wrk.method = "POST"
wrk.body = need("LOGIN_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = need("LOGIN_COOKIE")
wrk.headers["Origin"] = need("LOGIN_ORIGIN")

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

-- Per-thread counters (each wrk thread has its own Lua state); done() adds them up.
c303, c503, cother = 0, 0, 0
other_codes = ""

function response(status, headers, body)
   if status == 303 then
      c303 = c303 + 1
   elseif status == 503 then
      c503 = c503 + 1
   else
      cother = cother + 1
      -- Keep the first few unexpected statuses so a broken setup is easy to diagnose.
      if #other_codes < 60 then
         other_codes = other_codes .. status .. ","
      end
   end
end

function done(summary, latency, requests)
   bench_summary(summary, latency)
   local n303, n503, nother, codes = 0, 0, 0, ""
   for _, t in ipairs(threads) do
      n303 = n303 + t:get("c303")
      n503 = n503 + t:get("c503")
      nother = nother + t:get("cother")
      codes = codes .. t:get("other_codes")
   end
   if codes == "" then codes = "-" end
   io.write(string.format("STATUS s303=%d s503=%d other=%d other_codes=%s\n",
      n303, n503, nother, codes))
end

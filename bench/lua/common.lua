-- Shared by the wrk scripts: one machine-readable summary line at the end of a run.
--
--   BENCH requests=N duration_s=S rps=R p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. bytes=N
--         err_connect=N err_read=N err_write=N err_status=N err_timeout=N
--
-- wrk hands done() latencies in microseconds; they are printed in milliseconds so nothing
-- downstream has to parse wrk's "1.23ms / 456.78us / 1.02s" text (bench/lib/bench.py can,
-- as a fallback). err_status counts responses with status >= 400.

function bench_summary(summary, latency)
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_s=%.3f rps=%.2f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f " ..
      "max_ms=%.3f bytes=%d err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout))
end

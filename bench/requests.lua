-- Walks a list of requests, one per line: METHOD <tab> PATH [<tab> JSON body]. Each wrk thread takes
-- every N-th line (N = threads), so a single-use input (an approved token, a session to delete) is
-- sent once. Past the end a thread starts over; those repeats then show up as non-2xx answers.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local total = tonumber(args[2]) or 1
  local me = id or 0
  items = {}
  local all = {}
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    if method then all[#all + 1] = { method, path, body } end
  end
  for i, item in ipairs(all) do
    if (i - 1) % total == me then items[#items + 1] = item end
  end
  -- A list shorter than the thread count (one fixed request): every thread sends all of it.
  if #items == 0 then items = all end
  position = 0
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  position = position + 1
  if position > #items then position = 1 end
  local item = items[position]
  if item[3] ~= "" then
    return wrk.format(item[1], item[2], headers, item[3])
  end
  return wrk.format(item[1], item[2])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end

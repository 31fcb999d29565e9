-- wrk script for benches/load.sh: every request carries a bearer token from
-- the pool file the bench server wrote, so every scenario (the plain route
-- too) sends the same header shape and costs wrk the same.
--
--   wrk ... -s benches/load/tokens.lua URL -- TOKEN_FILE COUNT
--
-- COUNT: how many tokens of the file to cycle through (1: the first only).
local requests = {}
local next_index = 1

function init(args)
  local file, count = args[1], tonumber(args[2])
  for line in io.lines(file) do
    if #requests >= count then break end
    requests[#requests + 1] = wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. line })
  end
  assert(#requests == count, "token file has fewer than " .. count .. " tokens")
  -- Threads start at different places in the pool.
  next_index = (id or 0) * 97 % #requests + 1
end

function setup(thread)
  thread_count = (thread_count or 0) + 1
  thread:set("id", thread_count)
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end

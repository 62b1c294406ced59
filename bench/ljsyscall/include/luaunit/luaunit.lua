-- A minimal stand-in for the luaunit API that ljsyscall's test.lua calls
-- (assert_equals, assert_string, luaunit:run), written for our benchmark: Debian ships
-- ljsyscall's tests but not the luaunit copy they expect. It runs every global table
-- whose name contains "test", each function in it whose name contains "test", in
-- name order, and prints one "N passed, N failed, N skipped" line (ljsyscall's tests
-- skip by raising an error whose message ends in "skipped").
local M = {}

function assert_equals(expected, actual, msg)
  if expected ~= actual then
    error((msg and msg .. ": " or "") .. "expected " .. tostring(expected) ..
          ", got " .. tostring(actual), 2)
  end
end

function assert_string(value)
  if type(value) ~= "string" then error("expected a string, got " .. type(value), 2) end
end

local function sorted_keys(t, pattern)
  local keys = {}
  for k, v in pairs(t) do
    if type(k) == "string" and k:match(pattern) then keys[#keys + 1] = k end
  end
  table.sort(keys)
  return keys
end

function M:run(...)
  local only = {...}
  local passed, failed, skipped = 0, 0, 0
  for _, suite in ipairs(sorted_keys(_G, "test")) do
    local tests = _G[suite]
    if type(tests) == "table" and (#only == 0 or only[1] == suite) then
      for _, name in ipairs(sorted_keys(tests, "test")) do
        if type(tests[name]) == "function" then
          local ok, err = pcall(tests[name], tests)
          if ok then passed = passed + 1
          elseif tostring(err):match("skipped$") then skipped = skipped + 1
          else
            failed = failed + 1
            io.stderr:write(suite .. "." .. name .. ": " .. tostring(err) .. "\n")
          end
        end
      end
    end
  end
  print(passed .. " passed, " .. failed .. " failed, " .. skipped .. " skipped")
  return failed
end

return M

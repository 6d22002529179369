-- Wireshark / tshark dissector for ARD, Anycast Receiver Discovery
-- (anycast6, docs/ard.md). UDP port 5359, link-local IPv6 only.
--
--   tshark -X lua_script:contrib/wireshark/ard.lua -r capture.pcap -V
--   or copy it with anycast6_common.lua into ~/.local/lib/wireshark/plugins/
--
-- Written from docs/ard.md, not from the Rust code, so that checking the
-- captures of what anycast6 sends (scripts/check-dissector.sh) tests the
-- encoder against the spec.

-- The header, trailer and address helpers AARP shares, from this script's directory.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "")
                      .. "anycast6_common.lua")

local ARD_PORT = 5359
local HEADER_LEN = common.HEADER_LEN
local QUERY_BODY_LEN = 32
local REPORT_FIXED_LEN = 24
local RECORD_LEN = 24
local TRAILER_LEN = common.TRAILER_LEN
local METRIC_MAX = 0xfffffffe

local ard = Proto("ard", "Anycast Receiver Discovery")

local msg_types = { [1] = "Query", [2] = "Report" }
local record_types = { [1] = "Current", [2] = "Change", [3] = "Leave" }

local f = common.trailer_fields(common.header_fields("ard", msg_types), "ard")
f.flag_auth     = ProtoField.bool("ard.flags.auth", "Authentication trailer", 8, nil, common.FLAG_TRAILER)
f.flag_complete = ProtoField.bool("ard.flags.complete", "Complete", 8, nil, 0x40)

f.q_mrd        = ProtoField.uint32("ard.query.max_response_delay", "Maximum Response Delay (ms)", base.DEC)
f.q_max_hold   = ProtoField.uint32("ard.query.max_hold", "Maximum Hold Time (ms)", base.DEC)
f.q_interval   = ProtoField.uint32("ard.query.interval", "Query Interval (ms)", base.DEC)
f.q_robustness = ProtoField.uint8("ard.query.robustness", "Robustness", base.DEC)
f.q_anycast    = ProtoField.ipv6("ard.query.anycast", "Anycast Address")

f.r_hold       = ProtoField.uint32("ard.report.hold_time", "Hold Time (ms)", base.DEC)
f.r_unicast    = ProtoField.ipv6("ard.report.member_unicast", "Member Unicast Address")
f.r_count      = ProtoField.uint16("ard.report.num_records", "Number of Records", base.DEC)

f.record       = ProtoField.none("ard.record", "Record")
f.rec_type     = ProtoField.uint8("ard.record.type", "Record Type", base.DEC, record_types)
f.rec_flags    = ProtoField.uint8("ard.record.flags", "Flags", base.HEX)
f.rec_draining = ProtoField.bool("ard.record.draining", "Draining", 8, nil, 0x80)
f.rec_metric   = ProtoField.uint32("ard.record.metric", "Metric", base.DEC)
f.rec_anycast  = ProtoField.ipv6("ard.record.anycast", "Anycast Address")
ard.fields = common.values(f)

local e = common.header_experts("ard", "ARD", "Length field does not match the datagram")
e.bad_addr   = ProtoExpert.new("ard.address.invalid", "Not a valid anycast / unicast address here",
                               expert.group.PROTOCOL, expert.severity.WARN)
e.bad_record = ProtoExpert.new("ard.record.invalid", "Record ignored by receivers",
                               expert.group.PROTOCOL, expert.severity.WARN)
e.hop_limit  = ProtoExpert.new("ard.hop_limit", "ARD needs hop limit 255 and a link-local source",
                               expert.group.SECURITY, expert.severity.WARN)
ard.experts = common.values(e)

local ipv6_hlim = Field.new("ipv6.hlim")
local ipv6_src = Field.new("ipv6.src")

-- An address receivers refuse as anycast (or member unicast): unspecified,
-- loopback, multicast, link-local, IPv4-mapped.
local function address_invalid(tvb)
    return common.address_kind(tvb) ~= nil
end

local function dissect_query(body, tree, pinfo)
    if body:len() ~= QUERY_BODY_LEN then
        tree:add_proto_expert_info(e.malformed,
            string.format("Query body is %d octets, must be %d", body:len(), QUERY_BODY_LEN))
        return
    end
    tree:add(f.q_mrd, body(0, 4))
    tree:add(f.q_max_hold, body(4, 4))
    tree:add(f.q_interval, body(8, 4))
    tree:add(f.q_robustness, body(12, 1))
    tree:add(f.reserved, body(13, 3))
    local a = tree:add(f.q_anycast, body(16, 16))
    local general = true
    for i = 16, 31 do
        if body(i, 1):uint() ~= 0 then general = false end
    end
    if general then
        a:append_text(" (general query)")
        pinfo.cols.info:append(", general")
    else
        pinfo.cols.info:append(", for " .. tostring(body(16, 16):ipv6()))
        if address_invalid(body(16, 16)) then
            a:add_proto_expert_info(e.bad_addr)
        end
    end
end

local function dissect_report(body, tree, pinfo)
    if body:len() < REPORT_FIXED_LEN then
        tree:add_proto_expert_info(e.malformed,
            string.format("Report body is %d octets, needs at least %d", body:len(), REPORT_FIXED_LEN))
        return
    end
    tree:add(f.r_hold, body(0, 4))
    local u = tree:add(f.r_unicast, body(4, 16))
    if address_invalid(body(4, 16)) then
        u:add_proto_expert_info(e.bad_addr)
    end
    local n = body(20, 2):uint()
    tree:add(f.r_count, body(20, 2))
    tree:add(f.reserved, body(22, 2))
    local needed = REPORT_FIXED_LEN + n * RECORD_LEN
    if body:len() ~= needed then
        tree:add_proto_expert_info(e.malformed,
            string.format("%d records need a %d-octet body, it has %d", n, needed, body:len()))
        n = math.floor((body:len() - REPORT_FIXED_LEN) / RECORD_LEN)
    end
    local counts = { 0, 0, 0 }
    for i = 0, n - 1 do
        local r = body(REPORT_FIXED_LEN + i * RECORD_LEN, RECORD_LEN)
        local rtype = r(0, 1):uint()
        local name = record_types[rtype] or "Unknown"
        local st = tree:add(f.record, r)
        st:set_text(string.format("Record %d: %s %s, metric %d", i + 1, name,
                                  tostring(r(8, 16):ipv6()), r(4, 4):uint()))
        local t = st:add(f.rec_type, r(0, 1))
        local fl = st:add(f.rec_flags, r(1, 1))
        fl:add(f.rec_draining, r(1, 1))
        if bit.band(r(1, 1):uint(), 0x80) ~= 0 then st:append_text(", draining") end
        st:add(f.reserved, r(2, 2))
        local m = st:add(f.rec_metric, r(4, 4))
        local a = st:add(f.rec_anycast, r(8, 16))
        if record_types[rtype] == nil then
            t:add_proto_expert_info(e.bad_record, "Unknown record type")
        else
            counts[rtype] = counts[rtype] + 1
        end
        if address_invalid(r(8, 16)) then
            a:add_proto_expert_info(e.bad_record, "Invalid anycast address")
        end
        if r(4, 4):uint() > METRIC_MAX then
            m:add_proto_expert_info(e.bad_record, "Reserved metric")
        end
    end
    pinfo.cols.info:append(string.format(", %d current, %d change, %d leave",
                                         counts[1], counts[2], counts[3]))
end

local dissector = {
    proto = ard, label = "ARD", title = "Anycast Receiver Discovery",
    f = f, e = e, msg_types = msg_types, flag_bits = { f.flag_auth, f.flag_complete },
}

function ard.dissector(tvb, pinfo, root)
    local len = tvb:len()
    local tree, h = common.dissect_header(tvb, pinfo, root, dissector)
    if not h then
        return len
    end

    local hlim = ipv6_hlim()
    local src = ipv6_src()
    if hlim and hlim.value ~= 255 then
        tree:add_proto_expert_info(e.hop_limit, "Hop limit " .. hlim.value .. ", receivers drop it")
    end
    if src and not tostring(src.value):lower():match("^fe[89ab]") then
        tree:add_proto_expert_info(e.hop_limit, "Source not link-local, receivers drop it")
    end

    if not common.header_valid(tvb, h, dissector) then
        return len
    end
    local has_auth = common.has_trailer(h)
    local body_end = len
    if has_auth then
        body_end = len - TRAILER_LEN
        if body_end < HEADER_LEN then
            tree:add_proto_expert_info(e.malformed, "A flag set but no room for the trailer")
            return len
        end
    end
    if body_end == HEADER_LEN then
        tree:add_proto_expert_info(e.malformed, "Empty body")
    elseif h.type == 1 then
        dissect_query(tvb(HEADER_LEN, body_end - HEADER_LEN):tvb(), tree, pinfo)
    else
        dissect_report(tvb(HEADER_LEN, body_end - HEADER_LEN):tvb(), tree, pinfo)
    end
    if has_auth then
        common.dissect_trailer(tvb(body_end, TRAILER_LEN):tvb(), tree, pinfo, f)
    end
    return len
end

DissectorTable.get("udp.port"):add(ARD_PORT, ard)

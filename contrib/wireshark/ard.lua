-- Wireshark / tshark dissector for ARD, Anycast Receiver Discovery
-- (anycast6, docs/ard.md). UDP port 5359, link-local IPv6 only.
--
--   tshark -X lua_script:contrib/wireshark/ard.lua -r capture.pcap -V
--   or copy into ~/.local/lib/wireshark/plugins/
--
-- Written from docs/ard.md, not from the Rust code, so that checking the
-- captures of what anycast6 sends (scripts/check-dissector.sh) tests the
-- encoder against the spec.

local ARD_PORT = 5359
local HEADER_LEN = 8
local QUERY_BODY_LEN = 32
local REPORT_FIXED_LEN = 24
local RECORD_LEN = 24
local TRAILER_LEN = 44
local METRIC_MAX = 0xfffffffe

local ard = Proto("ard", "Anycast Receiver Discovery")

local msg_types = { [1] = "Query", [2] = "Report" }
local record_types = { [1] = "Current", [2] = "Change", [3] = "Leave" }
local algorithms = { [1] = "HMAC-SHA-256" }

local f = {
    version      = ProtoField.uint8("ard.version", "Version", base.DEC),
    type         = ProtoField.uint8("ard.type", "Type", base.DEC, msg_types),
    flags        = ProtoField.uint8("ard.flags", "Flags", base.HEX),
    flag_auth    = ProtoField.bool("ard.flags.auth", "Authentication trailer", 8, nil, 0x80),
    flag_complete = ProtoField.bool("ard.flags.complete", "Complete", 8, nil, 0x40),
    reserved     = ProtoField.bytes("ard.reserved", "Reserved"),
    length       = ProtoField.uint16("ard.length", "Length", base.DEC),

    q_mrd        = ProtoField.uint32("ard.query.max_response_delay", "Maximum Response Delay (ms)", base.DEC),
    q_max_hold   = ProtoField.uint32("ard.query.max_hold", "Maximum Hold Time (ms)", base.DEC),
    q_interval   = ProtoField.uint32("ard.query.interval", "Query Interval (ms)", base.DEC),
    q_robustness = ProtoField.uint8("ard.query.robustness", "Robustness", base.DEC),
    q_anycast    = ProtoField.ipv6("ard.query.anycast", "Anycast Address"),

    r_hold       = ProtoField.uint32("ard.report.hold_time", "Hold Time (ms)", base.DEC),
    r_unicast    = ProtoField.ipv6("ard.report.member_unicast", "Member Unicast Address"),
    r_count      = ProtoField.uint16("ard.report.num_records", "Number of Records", base.DEC),

    record       = ProtoField.none("ard.record", "Record"),
    rec_type     = ProtoField.uint8("ard.record.type", "Record Type", base.DEC, record_types),
    rec_flags    = ProtoField.uint8("ard.record.flags", "Flags", base.HEX),
    rec_draining = ProtoField.bool("ard.record.draining", "Draining", 8, nil, 0x80),
    rec_metric   = ProtoField.uint32("ard.record.metric", "Metric", base.DEC),
    rec_anycast  = ProtoField.ipv6("ard.record.anycast", "Anycast Address"),

    auth         = ProtoField.none("ard.auth", "Authentication Trailer"),
    auth_key_id  = ProtoField.uint16("ard.auth.key_id", "Key ID", base.DEC),
    auth_alg     = ProtoField.uint8("ard.auth.algorithm", "Algorithm", base.DEC, algorithms),
    auth_seq     = ProtoField.uint64("ard.auth.seq", "Sequence Number", base.DEC),
    auth_digest  = ProtoField.bytes("ard.auth.digest", "Digest"),
}
ard.fields = {
    f.version, f.type, f.flags, f.flag_auth, f.flag_complete, f.reserved, f.length,
    f.q_mrd, f.q_max_hold, f.q_interval, f.q_robustness, f.q_anycast,
    f.r_hold, f.r_unicast, f.r_count,
    f.record, f.rec_type, f.rec_flags, f.rec_draining, f.rec_metric, f.rec_anycast,
    f.auth, f.auth_key_id, f.auth_alg, f.auth_seq, f.auth_digest,
}

local e = {
    malformed  = ProtoExpert.new("ard.malformed", "Malformed ARD message",
                                 expert.group.MALFORMED, expert.severity.ERROR),
    version    = ProtoExpert.new("ard.version.unknown", "Unknown ARD version",
                                 expert.group.MALFORMED, expert.severity.ERROR),
    type       = ProtoExpert.new("ard.type.unknown", "Unknown ARD message type",
                                 expert.group.MALFORMED, expert.severity.ERROR),
    length     = ProtoExpert.new("ard.length.mismatch", "Length field does not match the datagram",
                                 expert.group.MALFORMED, expert.severity.ERROR),
    bad_addr   = ProtoExpert.new("ard.address.invalid", "Not a valid anycast / unicast address here",
                                 expert.group.PROTOCOL, expert.severity.WARN),
    bad_record = ProtoExpert.new("ard.record.invalid", "Record ignored by receivers",
                                 expert.group.PROTOCOL, expert.severity.WARN),
    hop_limit  = ProtoExpert.new("ard.hop_limit", "ARD needs hop limit 255 and a link-local source",
                                 expert.group.SECURITY, expert.severity.WARN),
}
ard.experts = { e.malformed, e.version, e.type, e.length, e.bad_addr, e.bad_record, e.hop_limit }

local ipv6_hlim = Field.new("ipv6.hlim")
local ipv6_src = Field.new("ipv6.src")

-- An address receivers refuse as anycast (or member unicast): unspecified,
-- loopback, multicast, link-local, IPv4-mapped.
local function address_invalid(tvb)
    local b0, b1 = tvb(0, 1):uint(), tvb(1, 1):uint()
    if b0 == 0xff then return true end
    if b0 == 0xfe and bit.band(b1, 0xc0) == 0x80 then return true end
    local zeros = true
    for i = 0, 9 do
        if tvb(i, 1):uint() ~= 0 then zeros = false end
    end
    if zeros then
        local w5 = tvb(10, 2):uint()
        if w5 == 0xffff then return true end
        if w5 == 0 and tvb(12, 4):uint() <= 1 then return true end
    end
    return false
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

local function dissect_trailer(t, tree)
    local st = tree:add(f.auth, t())
    st:add(f.auth_key_id, t(0, 2))
    st:add(f.auth_alg, t(2, 1))
    st:add(f.reserved, t(3, 1))
    st:add(f.auth_seq, t(4, 8))
    st:add(f.auth_digest, t(12, 32))
    st:set_text(string.format("Authentication Trailer: key %d, seq %s",
                              t(0, 2):uint(), tostring(t(4, 8):uint64())))
end

function ard.dissector(tvb, pinfo, root)
    pinfo.cols.protocol = "ARD"
    local len = tvb:len()
    local tree = root:add(ard, tvb(), "Anycast Receiver Discovery")
    if len < HEADER_LEN then
        tree:add_proto_expert_info(e.malformed,
            string.format("%d octets: shorter than the 8-octet header", len))
        pinfo.cols.info = "ARD (truncated)"
        return len
    end
    local version = tvb(0, 1):uint()
    local mtype = tvb(1, 1):uint()
    local flags = tvb(2, 1):uint()
    local v = tree:add(f.version, tvb(0, 1))
    local t = tree:add(f.type, tvb(1, 1))
    local fl = tree:add(f.flags, tvb(2, 1))
    fl:add(f.flag_auth, tvb(2, 1))
    fl:add(f.flag_complete, tvb(2, 1))
    tree:add(f.reserved, tvb(3, 1))
    local l = tree:add(f.length, tvb(4, 2))
    tree:add(f.reserved, tvb(6, 2))
    local name = msg_types[mtype] or "Unknown"
    pinfo.cols.info = "ARD " .. name
    tree:append_text(", " .. name)

    local hlim = ipv6_hlim()
    local src = ipv6_src()
    if hlim and hlim.value ~= 255 then
        tree:add_proto_expert_info(e.hop_limit, "Hop limit " .. hlim.value .. ", receivers drop it")
    end
    if src and not tostring(src.value):lower():match("^fe[89ab]") then
        tree:add_proto_expert_info(e.hop_limit, "Source not link-local, receivers drop it")
    end

    if version ~= 1 then
        v:add_proto_expert_info(e.version)
        return len
    end
    if msg_types[mtype] == nil then
        t:add_proto_expert_info(e.type)
        return len
    end
    if tvb(4, 2):uint() ~= len then
        l:add_proto_expert_info(e.length,
            string.format("Length field %d, datagram %d octets", tvb(4, 2):uint(), len))
        return len
    end
    local has_auth = bit.band(flags, 0x80) ~= 0
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
    elseif mtype == 1 then
        dissect_query(tvb(HEADER_LEN, body_end - HEADER_LEN):tvb(), tree, pinfo)
    else
        dissect_report(tvb(HEADER_LEN, body_end - HEADER_LEN):tvb(), tree, pinfo)
    end
    if has_auth then
        dissect_trailer(tvb(body_end, TRAILER_LEN):tvb(), tree)
        pinfo.cols.info:append(" [signed]")
    end
    return len
end

DissectorTable.get("udp.port"):add(ARD_PORT, ard)

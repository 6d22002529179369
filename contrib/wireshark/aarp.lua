-- Wireshark / tshark dissector for AARP, the Anycast Address Resolving
-- Protocol (anycast6, docs/aarp.md). UDP port 5360.
--
--   tshark -X lua_script:contrib/wireshark/aarp.lua -r capture.pcap -V
--   or copy into ~/.local/lib/wireshark/plugins/
--
-- Written from docs/aarp.md, not from the Rust code, so that checking
-- captures of what anycast6 sends (scripts/check-dissector.sh) tests the
-- encoder against the spec.

local AARP_PORT = 5360
local HEADER_LEN = 8
local QUERY_BODY_LEN = 28
local ANSWER_BODY_LEN = 48
local TRAILER_LEN = 44

-- "aarp" is taken by AppleTalk's Address Resolution Protocol: filter with "aarp6".
local aarp = Proto("aarp6", "Anycast Address Resolving Protocol (anycast6)")

local msg_types = { [1] = "Query", [2] = "Answer" }
local sources = { [1] = "Member", [2] = "Router" }
local statuses = { [0] = "OK", [1] = "No member" }
local algorithms = { [1] = "HMAC-SHA-256" }

local f = {
    version      = ProtoField.uint8("aarp6.version", "Version", base.DEC),
    type         = ProtoField.uint8("aarp6.type", "Type", base.DEC, msg_types),
    flags        = ProtoField.uint8("aarp6.flags", "Flags", base.HEX),
    flag_trailer = ProtoField.bool("aarp6.flags.trailer", "Authentication trailer", 8, nil, 0x80),
    reserved     = ProtoField.bytes("aarp6.reserved", "Reserved"),
    length       = ProtoField.uint16("aarp6.length", "Length", base.DEC),

    nonce        = ProtoField.uint64("aarp6.nonce", "Nonce", base.HEX),
    anycast      = ProtoField.ipv6("aarp6.anycast", "Anycast Address"),

    q_flags      = ProtoField.uint16("aarp6.query.flags", "Client Flags", base.HEX),
    q_member_only = ProtoField.bool("aarp6.query.member_only", "Member only", 16, nil, 0x8000),

    a_member     = ProtoField.ipv6("aarp6.answer.member", "Member Unicast Address"),
    a_lifetime   = ProtoField.uint32("aarp6.answer.lifetime", "Lifetime (ms)", base.DEC),
    a_preference = ProtoField.uint16("aarp6.answer.preference", "Preference", base.DEC),
    a_source     = ProtoField.uint8("aarp6.answer.source", "Source", base.DEC, sources),
    a_status     = ProtoField.uint8("aarp6.answer.status", "Status", base.DEC, statuses),

    auth         = ProtoField.none("aarp6.auth", "Authentication Trailer"),
    auth_key_id  = ProtoField.uint16("aarp6.auth.key_id", "Key ID", base.DEC),
    auth_alg     = ProtoField.uint8("aarp6.auth.algorithm", "Algorithm", base.DEC, algorithms),
    auth_seq     = ProtoField.uint64("aarp6.auth.seq", "Sequence Number", base.DEC),
    auth_digest  = ProtoField.bytes("aarp6.auth.digest", "Digest"),
}
aarp.fields = {
    f.version, f.type, f.flags, f.flag_trailer, f.reserved, f.length,
    f.nonce, f.anycast, f.q_flags, f.q_member_only,
    f.a_member, f.a_lifetime, f.a_preference, f.a_source, f.a_status,
    f.auth, f.auth_key_id, f.auth_alg, f.auth_seq, f.auth_digest,
}

-- Errors are what receivers drop the whole message for (docs/aarp.md §3.6).
local e = {
    malformed = ProtoExpert.new("aarp6.malformed", "Malformed AARP message",
                                expert.group.MALFORMED, expert.severity.ERROR),
    version   = ProtoExpert.new("aarp6.version.unknown", "Unknown AARP version",
                                expert.group.MALFORMED, expert.severity.ERROR),
    type      = ProtoExpert.new("aarp6.type.unknown", "Unknown AARP message type",
                                expert.group.MALFORMED, expert.severity.ERROR),
    length    = ProtoExpert.new("aarp6.length.mismatch", "Length does not fit the datagram or type",
                                expert.group.MALFORMED, expert.severity.ERROR),
    bad_addr  = ProtoExpert.new("aarp6.address.invalid", "Address receivers refuse here",
                                expert.group.MALFORMED, expert.severity.ERROR),
    bad_code  = ProtoExpert.new("aarp6.code.unknown", "Unknown source or status",
                                expert.group.MALFORMED, expert.severity.ERROR),
    routing   = ProtoExpert.new("aarp6.routing", "Not addressed as AARP requires",
                                expert.group.PROTOCOL, expert.severity.WARN),
}
aarp.experts = { e.malformed, e.version, e.type, e.length, e.bad_addr, e.bad_code, e.routing }

local ipv6_src = Field.new("ipv6.src")
local ipv6_dst = Field.new("ipv6.dst")

local function all_zero(tvb, from, to)
    for i = from, to do
        if tvb(i, 1):uint() ~= 0 then return false end
    end
    return true
end

-- Receivers refuse the unspecified address, multicast (ff00::/8) and
-- IPv4-mapped addresses (::ffff:0:0/96) as anycast or member addresses.
local function address_invalid(tvb)
    if tvb(0, 1):uint() == 0xff then return true end
    if all_zero(tvb, 0, 9) and tvb(10, 2):uint() == 0xffff then return true end
    return all_zero(tvb, 0, 15)
end

local function dissect_common(body, tree, pinfo)
    tree:add(f.nonce, body(0, 8))
    local a = tree:add(f.anycast, body(8, 16))
    if address_invalid(body(8, 16)) then
        a:add_proto_expert_info(e.bad_addr, "Not a valid anycast address")
    end
    pinfo.cols.info:append(" for " .. tostring(body(8, 16):ipv6()))
    return tostring(body(8, 16):ipv6())
end

local function dissect_query(body, tree, pinfo)
    local anycast = dissect_common(body, tree, pinfo)
    local fl = tree:add(f.q_flags, body(24, 2))
    fl:add(f.q_member_only, body(24, 2))
    tree:add(f.reserved, body(26, 2))
    if bit.band(body(24, 2):uint(), 0x8000) ~= 0 then
        pinfo.cols.info:append(", member only")
    end
    local dst = ipv6_dst()
    if dst and tostring(dst.value) ~= anycast then
        tree:add_proto_expert_info(e.routing,
            "Query not sent to the address it asks for: responders drop it")
    end
end

local function dissect_answer(body, tree, pinfo)
    local anycast = dissect_common(body, tree, pinfo)
    local m = tree:add(f.a_member, body(24, 16))
    tree:add(f.a_lifetime, body(40, 4))
    tree:add(f.a_preference, body(44, 2))
    local s = tree:add(f.a_source, body(46, 1))
    local st = tree:add(f.a_status, body(47, 1))
    local source, status = body(46, 1):uint(), body(47, 1):uint()
    if sources[source] == nil then
        s:add_proto_expert_info(e.bad_code, "Unknown source " .. source)
    end
    if status == 0 then
        if address_invalid(body(24, 16)) then
            m:add_proto_expert_info(e.bad_addr, "Not a valid member address")
        end
        pinfo.cols.info:append(string.format(" -> %s, %d ms, from %s",
            tostring(body(24, 16):ipv6()), body(40, 4):uint(), sources[source] or "?"))
    elseif status == 1 then
        if not all_zero(body, 24, 39) then
            m:add_proto_expert_info(e.bad_addr, "A no-member answer carries ::")
        end
        pinfo.cols.info:append(", no member")
    else
        st:add_proto_expert_info(e.bad_code, "Unknown status " .. status)
    end
    local src = ipv6_src()
    if src and tostring(src.value) ~= anycast then
        tree:add_proto_expert_info(e.routing,
            "Answer not sent from the anycast address: a client's connected socket drops it")
    end
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

function aarp.dissector(tvb, pinfo, root)
    pinfo.cols.protocol = "AARP"
    local len = tvb:len()
    local tree = root:add(aarp, tvb(), "Anycast Address Resolving Protocol")
    if len < HEADER_LEN then
        tree:add_proto_expert_info(e.malformed,
            string.format("%d octets: shorter than the 8-octet header", len))
        pinfo.cols.info = "AARP (truncated)"
        return len
    end
    local version = tvb(0, 1):uint()
    local mtype = tvb(1, 1):uint()
    local flags = tvb(2, 1):uint()
    local v = tree:add(f.version, tvb(0, 1))
    local t = tree:add(f.type, tvb(1, 1))
    local fl = tree:add(f.flags, tvb(2, 1))
    fl:add(f.flag_trailer, tvb(2, 1))
    tree:add(f.reserved, tvb(3, 1))
    local l = tree:add(f.length, tvb(4, 2))
    tree:add(f.reserved, tvb(6, 2))
    local name = msg_types[mtype] or "Unknown"
    pinfo.cols.info = "AARP " .. name
    tree:append_text(", " .. name)

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
    local signed = bit.band(flags, 0x80) ~= 0
    local body_len = QUERY_BODY_LEN
    if mtype == 2 then body_len = ANSWER_BODY_LEN end
    local expected = HEADER_LEN + body_len
    if signed then expected = expected + TRAILER_LEN end
    if len ~= expected then
        l:add_proto_expert_info(e.length,
            string.format("A%s %s is %d octets, this one %d", signed and " signed" or "n unsigned",
                          name, expected, len))
        return len
    end
    local body = tvb(HEADER_LEN, body_len):tvb()
    if mtype == 1 then
        dissect_query(body, tree, pinfo)
    else
        dissect_answer(body, tree, pinfo)
    end
    if signed then
        dissect_trailer(tvb(HEADER_LEN + body_len, TRAILER_LEN):tvb(), tree)
        pinfo.cols.info:append(" [signed]")
    end
    return len
end

DissectorTable.get("udp.port"):add(AARP_PORT, aarp)

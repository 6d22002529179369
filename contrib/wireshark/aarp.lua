-- Wireshark / tshark dissector for AARP, the Anycast Address Resolving
-- Protocol (anycast6, docs/aarp.md). UDP port 5360.
--
--   tshark -X lua_script:contrib/wireshark/aarp.lua -r capture.pcap -V
--   or copy it with anycast6_common.lua into ~/.local/lib/wireshark/plugins/
--
-- Written from docs/aarp.md, not from the Rust code, so that checking
-- captures of what anycast6 sends (scripts/check-dissector.sh) tests the
-- encoder against the spec.

-- The header, trailer and address helpers ARD shares, from this script's directory.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "")
                      .. "anycast6_common.lua")

local AARP_PORT = 5360
local HEADER_LEN = common.HEADER_LEN
local QUERY_BODY_LEN = 28
local ANSWER_BODY_LEN = 48
local TRAILER_LEN = common.TRAILER_LEN

-- "aarp" is taken by AppleTalk's Address Resolution Protocol: filter with "aarp6".
local aarp = Proto("aarp6", "Anycast Address Resolving Protocol (anycast6)")

local msg_types = { [1] = "Query", [2] = "Answer" }
local sources = { [1] = "Member", [2] = "Router" }
local statuses = { [0] = "OK", [1] = "No member" }

local f = common.trailer_fields(common.header_fields("aarp6", msg_types), "aarp6")
f.flag_trailer = ProtoField.bool("aarp6.flags.trailer", "Authentication trailer", 8, nil, common.FLAG_TRAILER)

f.nonce        = ProtoField.uint64("aarp6.nonce", "Nonce", base.HEX)
f.anycast      = ProtoField.ipv6("aarp6.anycast", "Anycast Address")

f.q_flags      = ProtoField.uint16("aarp6.query.flags", "Client Flags", base.HEX)
f.q_member_only = ProtoField.bool("aarp6.query.member_only", "Member only", 16, nil, 0x8000)

f.a_member     = ProtoField.ipv6("aarp6.answer.member", "Member Unicast Address")
f.a_lifetime   = ProtoField.uint32("aarp6.answer.lifetime", "Lifetime (ms)", base.DEC)
f.a_preference = ProtoField.uint16("aarp6.answer.preference", "Preference", base.DEC)
f.a_source     = ProtoField.uint8("aarp6.answer.source", "Source", base.DEC, sources)
f.a_status     = ProtoField.uint8("aarp6.answer.status", "Status", base.DEC, statuses)
aarp.fields = common.values(f)

-- Errors are what receivers drop the whole message for (docs/aarp.md §3.6).
local e = common.header_experts("aarp6", "AARP", "Length does not fit the datagram or type")
e.bad_addr  = ProtoExpert.new("aarp6.address.invalid", "Address receivers refuse here",
                              expert.group.MALFORMED, expert.severity.ERROR)
e.bad_code  = ProtoExpert.new("aarp6.code.unknown", "Unknown source or status",
                              expert.group.MALFORMED, expert.severity.ERROR)
e.routing   = ProtoExpert.new("aarp6.routing", "Not addressed as AARP requires",
                              expert.group.PROTOCOL, expert.severity.WARN)
aarp.experts = common.values(e)

local ipv6_src = Field.new("ipv6.src")
local ipv6_dst = Field.new("ipv6.dst")

-- Receivers refuse the unspecified address, multicast (ff00::/8) and
-- IPv4-mapped addresses (::ffff:0:0/96) as anycast or member addresses.
local refused = { unspecified = true, multicast = true, ["ipv4-mapped"] = true }
local function address_invalid(tvb)
    return refused[common.address_kind(tvb)] == true
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
        if not common.all_zero(body, 24, 39) then
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

local dissector = {
    proto = aarp, label = "AARP", title = "Anycast Address Resolving Protocol",
    f = f, e = e, msg_types = msg_types, flag_bits = { f.flag_trailer },
}

function aarp.dissector(tvb, pinfo, root)
    local len = tvb:len()
    local tree, h = common.dissect_header(tvb, pinfo, root, dissector)
    if not h or not common.header_valid(tvb, h, dissector) then
        return len
    end
    local signed = common.has_trailer(h)
    local body_len = QUERY_BODY_LEN
    if h.type == 2 then body_len = ANSWER_BODY_LEN end
    local expected = HEADER_LEN + body_len
    if signed then expected = expected + TRAILER_LEN end
    if len ~= expected then
        h.l:add_proto_expert_info(e.length,
            string.format("A%s %s is %d octets, this one %d", signed and " signed" or "n unsigned",
                          h.name, expected, len))
        return len
    end
    local body = tvb(HEADER_LEN, body_len):tvb()
    if h.type == 1 then
        dissect_query(body, tree, pinfo)
    else
        dissect_answer(body, tree, pinfo)
    end
    if signed then
        common.dissect_trailer(tvb(HEADER_LEN + body_len, TRAILER_LEN):tvb(), tree, pinfo, f)
    end
    return len
end

DissectorTable.get("udp.port"):add(AARP_PORT, aarp)

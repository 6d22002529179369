-- What the anycast6 dissectors (ard.lua, aarp.lua) share: the 8-octet
-- header every anycast6 UDP message starts with, the 44-octet HMAC-SHA-256
-- authentication trailer, the address checks, and small helpers.
--
-- Each dissector loads this file from its own directory:
--
--   local common = dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "")
--                         .. "anycast6_common.lua")
--
-- so copy it beside them (into ~/.local/lib/wireshark/plugins/, or wherever
-- `tshark -X lua_script:...` finds them). It registers nothing itself:
-- Wireshark loading it as a plugin of its own does no harm.
--
-- Written from docs/ard.md §3 and docs/aarp.md §3, like the dissectors.

local M = {}

M.HEADER_LEN = 8
M.TRAILER_LEN = 44
-- Flags octet: the message carries an authentication trailer.
M.FLAG_TRAILER = 0x80

local algorithms = { [1] = "HMAC-SHA-256" }

-- The values of t in the order of their keys: a field or expert list that
-- is the same on every load.
function M.values(t)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys)
    local out = {}
    for i, k in ipairs(keys) do out[i] = t[k] end
    return out
end

-- The header fields <abbr>.version, .type, .flags, .reserved, .length in a
-- new field table; the dissector adds its own flag bits and body fields.
function M.header_fields(abbr, msg_types)
    return {
        version  = ProtoField.uint8(abbr .. ".version", "Version", base.DEC),
        type     = ProtoField.uint8(abbr .. ".type", "Type", base.DEC, msg_types),
        flags    = ProtoField.uint8(abbr .. ".flags", "Flags", base.HEX),
        reserved = ProtoField.bytes(abbr .. ".reserved", "Reserved"),
        length   = ProtoField.uint16(abbr .. ".length", "Length", base.DEC),
    }
end

-- Adds the trailer fields <abbr>.auth, .auth.key_id, .auth.algorithm,
-- .auth.seq, .auth.digest to the field table f.
function M.trailer_fields(f, abbr)
    f.auth        = ProtoField.none(abbr .. ".auth", "Authentication Trailer")
    f.auth_key_id = ProtoField.uint16(abbr .. ".auth.key_id", "Key ID", base.DEC)
    f.auth_alg    = ProtoField.uint8(abbr .. ".auth.algorithm", "Algorithm", base.DEC, algorithms)
    f.auth_seq    = ProtoField.uint64(abbr .. ".auth.seq", "Sequence Number", base.DEC)
    f.auth_digest = ProtoField.bytes(abbr .. ".auth.digest", "Digest")
    return f
end

-- The expert errors every header check raises, in a new expert table:
-- malformed, version, type, length (its text is the dissector's).
function M.header_experts(abbr, label, length_text)
    local function err(name, text)
        return ProtoExpert.new(abbr .. "." .. name, text, expert.group.MALFORMED, expert.severity.ERROR)
    end
    return {
        malformed = err("malformed", "Malformed " .. label .. " message"),
        version   = err("version.unknown", "Unknown " .. label .. " version"),
        type      = err("type.unknown", "Unknown " .. label .. " message type"),
        length    = err("length.mismatch", length_text),
    }
end

-- p describes the dissector: proto, label ("ARD"), title (the tree's
-- text), f and e (its fields and experts), msg_types, flag_bits (the flag
-- fields to show under Flags).
--
-- Adds the protocol tree and the header to it and names the message in the
-- Info column. Returns the tree and the header { version, type, flags,
-- name, v, t, l (the version, type and length items) }, or the tree alone
-- when the datagram is shorter than a header.
function M.dissect_header(tvb, pinfo, root, p)
    pinfo.cols.protocol = p.label
    local len = tvb:len()
    local tree = root:add(p.proto, tvb(), p.title)
    if len < M.HEADER_LEN then
        tree:add_proto_expert_info(p.e.malformed,
            string.format("%d octets: shorter than the 8-octet header", len))
        pinfo.cols.info = p.label .. " (truncated)"
        return tree
    end
    local f = p.f
    local h = {
        version = tvb(0, 1):uint(),
        type = tvb(1, 1):uint(),
        flags = tvb(2, 1):uint(),
    }
    h.v = tree:add(f.version, tvb(0, 1))
    h.t = tree:add(f.type, tvb(1, 1))
    local fl = tree:add(f.flags, tvb(2, 1))
    for _, bitfield in ipairs(p.flag_bits) do
        fl:add(bitfield, tvb(2, 1))
    end
    tree:add(f.reserved, tvb(3, 1))
    h.l = tree:add(f.length, tvb(4, 2))
    tree:add(f.reserved, tvb(6, 2))
    h.name = p.msg_types[h.type] or "Unknown"
    pinfo.cols.info = p.label .. " " .. h.name
    tree:append_text(", " .. h.name)
    return tree, h
end

-- What receivers check of every header before the body: version 1, a
-- known type, a Length field equal to the datagram's. Flags the first that
-- fails and returns false.
function M.header_valid(tvb, h, p)
    if h.version ~= 1 then
        h.v:add_proto_expert_info(p.e.version)
        return false
    end
    if p.msg_types[h.type] == nil then
        h.t:add_proto_expert_info(p.e.type)
        return false
    end
    if tvb(4, 2):uint() ~= tvb:len() then
        h.l:add_proto_expert_info(p.e.length,
            string.format("Length field %d, datagram %d octets", tvb(4, 2):uint(), tvb:len()))
        return false
    end
    return true
end

-- Whether the header's flags announce a trailer.
function M.has_trailer(h)
    return bit.band(h.flags, M.FLAG_TRAILER) ~= 0
end

-- The 44-octet trailer t (its own Tvb): key ID, algorithm, reserved,
-- sequence number, digest; marks the Info column [signed].
function M.dissect_trailer(t, tree, pinfo, f)
    local st = tree:add(f.auth, t())
    st:add(f.auth_key_id, t(0, 2))
    st:add(f.auth_alg, t(2, 1))
    st:add(f.reserved, t(3, 1))
    st:add(f.auth_seq, t(4, 8))
    st:add(f.auth_digest, t(12, 32))
    st:set_text(string.format("Authentication Trailer: key %d, seq %s",
                              t(0, 2):uint(), tostring(t(4, 8):uint64())))
    pinfo.cols.info:append(" [signed]")
end

-- Whether octets from..to (inclusive) of tvb are all zero.
function M.all_zero(tvb, from, to)
    for i = from, to do
        if tvb(i, 1):uint() ~= 0 then return false end
    end
    return true
end

-- What kind of special address the 16 octets of tvb are: "multicast"
-- (ff00::/8), "link-local" (fe80::/10), "ipv4-mapped" (::ffff:0:0/96),
-- "unspecified" (::), "loopback" (::1), or nil for any other. Each
-- protocol refuses some of them as anycast or member addresses.
function M.address_kind(tvb)
    local b0, b1 = tvb(0, 1):uint(), tvb(1, 1):uint()
    if b0 == 0xff then return "multicast" end
    if b0 == 0xfe and bit.band(b1, 0xc0) == 0x80 then return "link-local" end
    if not M.all_zero(tvb, 0, 9) then return nil end
    local w5 = tvb(10, 2):uint()
    if w5 == 0xffff then return "ipv4-mapped" end
    if w5 == 0 then
        local tail = tvb(12, 4):uint()
        if tail == 0 then return "unspecified" end
        if tail == 1 then return "loopback" end
    end
    return nil
end

return M

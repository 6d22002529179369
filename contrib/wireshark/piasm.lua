-- Wireshark / tshark post-dissector for PIA-SM, Protocol Independent
-- Anycast - Sparse Mode (anycast6, docs/piasm.md). PIA-SM messages are
-- PIMv2 messages (IPv6 next header 103): Wireshark's PIM dissector shows
-- their layout, and this adds what PIA-SM means by them, in a tree of its
-- own after PIM's: Hello options 65100 (PIA-SM) and 65101
-- (authentication), join attributes 60 Weight, 61 Endpoint, 62 Relayed, the
-- authentication trailer after a Join/Prune, and the type-15 extension
-- messages (Shortcut Request, Branch Announcement) PIM's dissector leaves
-- as "Unknown (15)".
--
--   tshark -X lua_script:contrib/wireshark/piasm.lua -r capture.pcap -V
--   or copy it with anycast6_common.lua into ~/.local/lib/wireshark/plugins/
--
-- Written from docs/piasm.md §2 and §3, not from the Rust code, so that
-- checking captures of what anycast6 sends (scripts/check-dissector.sh)
-- tests the encoder against the spec. Filter with "piasm".

-- The trailer fields and helpers the anycast6 dissectors share, from this script's directory.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "")
                      .. "anycast6_common.lua")

local TRAILER_LEN = common.TRAILER_LEN
local TYPE_HELLO, TYPE_JOIN_PRUNE, TYPE_EXTENSION = 0, 3, 15
local OPT_HOLDTIME, OPT_ADDRESS_LIST, OPT_PIASM, OPT_AUTH = 1, 24, 65100, 65101
local ATTR_WEIGHT, ATTR_ENDPOINT, ATTR_RELAYED = 60, 61, 62
local AF_IPV6 = 2
local MAX_WEIGHT = 65535
local MAX_BRANCHES = 64
local SHORTCUT_LEN = 40      -- header, holdtime, reserved, A, R
local ANNOUNCEMENT_FIXED = 36 -- header, holdtime, count, version, table length, seed, A
local BRANCH_LEN = 20

local piasm = Proto("piasm", "Protocol Independent Anycast - Sparse Mode")

local subtypes = { [1] = "Shortcut Request", [2] = "Branch Announcement" }
local attributes = { [ATTR_WEIGHT] = "Weight", [ATTR_ENDPOINT] = "Endpoint", [ATTR_RELAYED] = "Relayed" }

local f = common.trailer_fields({}, "piasm")
f.reserved     = ProtoField.bytes("piasm.reserved", "Reserved")
f.message      = ProtoField.string("piasm.message", "Message")

f.cap          = ProtoField.none("piasm.hello.capability", "PIA-SM option (65100)")
f.cap_version  = ProtoField.uint8("piasm.hello.version", "Version", base.DEC)
f.cap_flags    = ProtoField.uint8("piasm.hello.flags", "Flags", base.HEX)
f.cap_core     = ProtoField.bool("piasm.hello.core", "C (core)", 8, nil, 0x80)
f.plain        = ProtoField.bool("piasm.hello.plain", "Plain PIM router (no option 65100)")

f.entry        = ProtoField.none("piasm.entry", "Entry")
f.action       = ProtoField.string("piasm.action", "Action")
f.anycast      = ProtoField.ipv6("piasm.anycast", "Anycast Address")
f.core         = ProtoField.ipv6("piasm.core", "Core Address")
f.attr         = ProtoField.none("piasm.attribute", "Attribute")
f.attr_type    = ProtoField.uint8("piasm.attribute.type", "Type", base.DEC, attributes, 0x3f)
f.attr_f       = ProtoField.bool("piasm.attribute.f", "F (transitive)", 8, nil, 0x80)
f.attr_e       = ProtoField.bool("piasm.attribute.e", "E (end of attributes)", 8, nil, 0x40)
f.attr_len     = ProtoField.uint8("piasm.attribute.length", "Length", base.DEC)
f.weight       = ProtoField.uint32("piasm.weight", "Weight (members behind the sender)", base.DEC)
f.endpoint     = ProtoField.ipv6("piasm.endpoint", "Endpoint")
f.relayed      = ProtoField.bool("piasm.relayed", "Relayed (a core's branch passed to a peer core)")

f.subtype      = ProtoField.uint8("piasm.subtype", "Subtype", base.DEC, subtypes, 0xf0)
f.holdtime     = ProtoField.uint16("piasm.holdtime", "Holdtime (s)", base.DEC)
f.ingress      = ProtoField.ipv6("piasm.ingress", "Ingress Router Address")
f.num_branches = ProtoField.uint16("piasm.num_branches", "Number of Branches", base.DEC)
f.version      = ProtoField.uint32("piasm.version", "Version", base.DEC)
f.table_len    = ProtoField.uint32("piasm.table_length", "Table Length", base.DEC)
f.hash_seed    = ProtoField.uint32("piasm.hash_seed", "Hash Seed", base.HEX)
f.branch       = ProtoField.none("piasm.branch", "Branch")
f.br_endpoint  = ProtoField.ipv6("piasm.branch.endpoint", "Endpoint")
f.br_weight    = ProtoField.uint16("piasm.branch.weight", "Weight", base.DEC)
piasm.fields = common.values(f)

-- Errors are what receivers drop the whole message for (docs/piasm.md §3);
-- the warning is for addressing receivers drop (§2).
local function err(name, text)
    return ProtoExpert.new("piasm." .. name, text, expert.group.MALFORMED, expert.severity.ERROR)
end
local e = {
    malformed = err("malformed", "Malformed PIA-SM message"),
    refused   = err("refused", "Receivers refuse this message"),
    subtype   = err("subtype.unknown", "Unknown PIA-SM extension subtype"),
    source    = ProtoExpert.new("piasm.bad_source", "Link messages need a link-local source and hop limit 1",
                                expert.group.SECURITY, expert.severity.WARN),
}
piasm.experts = common.values(e)

local pim_f = Field.new("pim")
local ipv6_hlim = Field.new("ipv6.hlim")
local ipv6_src = Field.new("ipv6.src")
local ipv6_dst = Field.new("ipv6.dst")

-- Link messages (to ff02::d) come from a link-local address with hop limit 1.
local function check_link(tree)
    local dst, src, hlim = ipv6_dst(), ipv6_src(), ipv6_hlim()
    if not dst or tostring(dst.value):lower() ~= "ff02::d" then return end
    if hlim and hlim.value ~= 1 then
        tree:add_proto_expert_info(e.source, "Hop limit " .. hlim.value .. ", receivers drop it")
    end
    if src and not tostring(src.value):lower():match("^fe[89ab]") then
        tree:add_proto_expert_info(e.source, "Source not link-local, receivers drop it")
    end
end

-- What follows the counted part of a Join/Prune or extension message:
-- nothing, or the 44-octet trailer.
local function dissect_tail(t, at, tree, pinfo)
    local left = t:len() - at
    if left == TRAILER_LEN then
        common.dissect_trailer(t(at, TRAILER_LEN):tvb(), tree, pinfo, f)
    elseif left ~= 0 then
        tree:add_proto_expert_info(e.malformed,
            string.format("%d octets after the message: neither none nor a %d-octet trailer", left, TRAILER_LEN))
    end
end

local function dissect_hello(t, tree, pinfo)
    local at, holdtime, cap, auth = 4, nil, nil, false
    while at < t:len() do
        if auth then
            tree:add_proto_expert_info(e.refused, "An option after the authentication option")
            return
        end
        if t:len() - at < 4 then
            tree:add_proto_expert_info(e.malformed, "Option header cut short")
            return
        end
        local otype, olen = t(at, 2):uint(), t(at + 2, 2):uint()
        if t:len() - at - 4 < olen then
            tree:add_proto_expert_info(e.malformed,
                string.format("Option %d of %d octets runs past the message", otype, olen))
            return
        end
        local v = at + 4
        if otype == OPT_HOLDTIME and olen == 2 then
            holdtime = t(v, 2):uint()
        elseif otype == OPT_PIASM then
            local st = tree:add(f.cap, t(at, 4 + olen))
            if olen ~= 4 then
                st:add_proto_expert_info(e.refused, "Option 65100 of " .. olen .. " octets, not 4")
                return
            end
            local vi = st:add(f.cap_version, t(v, 1))
            local fl = st:add(f.cap_flags, t(v + 1, 1))
            fl:add(f.cap_core, t(v + 1, 1))
            st:add(f.reserved, t(v + 2, 2))
            cap = { version = t(v, 1):uint(), core = bit.band(t(v + 1, 1):uint(), 0x80) ~= 0 }
            st:set_text(string.format("PIA-SM option (65100): version %d%s", cap.version,
                                      cap.core and ", core" or ""))
            if cap.version ~= 1 then
                vi:add_proto_expert_info(e.refused, "PIA-SM version " .. cap.version .. ", not 1")
            end
        elseif otype == OPT_AUTH then
            if olen ~= TRAILER_LEN then
                tree:add_proto_expert_info(e.refused, "Option 65101 of " .. olen .. " octets, not 44")
                return
            end
            common.dissect_trailer(t(v, TRAILER_LEN):tvb(), tree, pinfo, f)
            auth = true
        elseif otype == OPT_ADDRESS_LIST and olen > 0 then
            pinfo.cols.info:append(", R " .. tostring(t(v + 2, 16):ipv6()))
        end
        at = v + olen
    end
    if not cap then
        tree:add(f.plain, t(0, 1), true):set_generated()
        tree:append_text(": a plain PIM router")
    else
        tree:append_text(cap.core and ": a core" or ": a PIA-SM router")
        pinfo.cols.info:append(cap.core and " [PIA-SM core]" or " [PIA-SM]")
    end
    if holdtime == nil then
        tree:add_proto_expert_info(e.refused, "Hello without Holdtime")
    end
end

-- The join attributes from at (after an Encoded-Source of type 1): returns
-- the offset after them, and { weight, endpoint, relayed }, or nil when
-- the list is cut short.
local function dissect_attributes(t, at, st, is_join)
    local got, seen = {}, {}
    while true do
        if t:len() - at < 2 then
            st:add_proto_expert_info(e.malformed, "Join attributes without an E flag run past the message")
            return nil
        end
        local ft, alen = t(at, 1):uint(), t(at + 1, 1):uint()
        if t:len() - at - 2 < alen then
            st:add_proto_expert_info(e.malformed, "Join attribute runs past the message")
            return nil
        end
        local atype = bit.band(ft, 0x3f)
        local at_tree = st:add(f.attr, t(at, 2 + alen))
        at_tree:add(f.attr_f, t(at, 1))
        at_tree:add(f.attr_e, t(at, 1))
        at_tree:add(f.attr_type, t(at, 1))
        at_tree:add(f.attr_len, t(at + 1, 1))
        local name = attributes[atype]
        local want = { [ATTR_WEIGHT] = 4, [ATTR_ENDPOINT] = 16, [ATTR_RELAYED] = 0 }
        if name and seen[atype] then
            at_tree:add_proto_expert_info(e.refused, name .. " repeated")
        end
        if name then seen[atype] = true end
        if name and alen ~= want[atype] then
            at_tree:add_proto_expert_info(e.refused,
                string.format("%s of %d octets, not %d", name, alen, want[atype]))
        elseif atype == ATTR_WEIGHT then
            local w = t(at + 2, 4):uint()
            local wi = at_tree:add(f.weight, t(at + 2, 4))
            got.weight = w
            if w == 0 or w > MAX_WEIGHT then
                wi:add_proto_expert_info(e.refused, "Weight not 1 to 65535")
            end
            if not is_join then
                wi:add_proto_expert_info(e.refused, "A prune carries no Weight")
            end
            at_tree:set_text("Weight: " .. w)
        elseif atype == ATTR_ENDPOINT then
            at_tree:add(f.endpoint, t(at + 2, 16))
            got.endpoint = tostring(t(at + 2, 16):ipv6())
            at_tree:set_text("Endpoint: " .. got.endpoint)
        elseif atype == ATTR_RELAYED then
            at_tree:add(f.relayed, t(at, 2), true)
            got.relayed = true
            at_tree:set_text("Relayed")
        elseif bit.band(ft, 0x80) == 0 then
            at_tree:set_text("Unknown attribute " .. atype .. ", not transitive")
            at_tree:add_proto_expert_info(e.refused, "Unknown attribute, not transitive")
        else
            at_tree:set_text("Unknown attribute " .. atype .. ", transitive: ignored")
        end
        at = at + 2 + alen
        if bit.band(ft, 0x40) ~= 0 then
            return at, got
        end
    end
end

-- One Encoded-Source (the core) of a join or prune: returns the offset
-- after it and its attributes, or nil when cut short.
local function dissect_source(t, at, st, is_join)
    if t:len() - at < 20 then
        st:add_proto_expert_info(e.malformed, "Encoded-Source cut short")
        return nil
    end
    local family, enc = t(at, 1):uint(), t(at + 1, 1):uint()
    local flags, mask = t(at + 2, 1):uint(), t(at + 3, 1):uint()
    if family ~= AF_IPV6 or enc > 1 then
        st:add_proto_expert_info(e.refused, string.format("Source family %d, encoding %d", family, enc))
        return nil
    end
    st:add(f.core, t(at + 4, 16))
    if bit.band(flags, 0x07) ~= 0x07 then
        st:add_proto_expert_info(e.refused, "S, W and R not all set")
    end
    if mask ~= 128 then
        st:add_proto_expert_info(e.refused, "Source mask length " .. mask .. ", not 128")
    end
    at = at + 20
    if enc == 0 then
        if is_join then
            st:add_proto_expert_info(e.refused, "A join without attributes (encoding type 0)")
        end
        return at, {}
    end
    return dissect_attributes(t, at, st, is_join)
end

local function dissect_join_prune(t, tree, pinfo)
    if t:len() < 26 then
        tree:add_proto_expert_info(e.malformed, "Join/Prune header cut short")
        return
    end
    if t(4, 1):uint() ~= AF_IPV6 or t(5, 1):uint() ~= 0 then
        tree:add_proto_expert_info(e.refused, "Upstream neighbour not an IPv6 Encoded-Unicast address")
        return
    end
    local groups = t(23, 1):uint()
    if groups == 0 then
        tree:add_proto_expert_info(e.refused, "No group")
    end
    local at, joins_n, prunes_n = 26, 0, 0
    for g = 1, groups do
        if t:len() - at < 24 then
            tree:add_proto_expert_info(e.malformed, "Group " .. g .. " cut short")
            return
        end
        local st = tree:add(f.entry, t(at, 24))
        local family, enc = t(at, 1):uint(), t(at + 1, 1):uint()
        if family ~= AF_IPV6 or enc ~= 0 then
            st:add_proto_expert_info(e.refused, string.format("Group family %d, encoding %d", family, enc))
            return
        end
        local anycast = tostring(t(at + 4, 16):ipv6())
        st:add(f.anycast, t(at + 4, 16))
        if bit.band(t(at + 2, 1):uint(), 0x81) ~= 0 then
            st:add_proto_expert_info(e.refused, "B or Z set")
        end
        if t(at + 3, 1):uint() ~= 128 then
            st:add_proto_expert_info(e.refused, "Anycast mask length " .. t(at + 3, 1):uint() .. ", not 128")
        end
        local nj, np = t(at + 20, 2):uint(), t(at + 22, 2):uint()
        local start = at
        at = at + 24
        if nj + np ~= 1 then
            st:add_proto_expert_info(e.refused,
                string.format("%d joins and %d prunes: PIA-SM sends one join or one prune", nj, np))
        end
        for i = 1, nj + np do
            local is_join = i <= nj
            local src_at = at
            local after, attrs = dissect_source(t, at, st, is_join)
            if not after then return end
            at = after
            st:add(f.action, t(src_at, at - src_at), is_join and "join" or "prune"):set_generated()
            local text = string.format("%s %s toward %s", is_join and "Join" or "Prune", anycast,
                                       tostring(t(src_at + 4, 16):ipv6()))
            if is_join then
                if attrs.weight then
                    text = text .. ", weight " .. attrs.weight
                else
                    st:add_proto_expert_info(e.refused, "A join without Weight")
                end
            elseif attrs.weight then
                text = text .. ", weight " .. attrs.weight
            end
            if attrs.endpoint then text = text .. ", endpoint " .. attrs.endpoint end
            if attrs.relayed then text = text .. ", relayed" end
            st:set_text(text)
            if is_join then joins_n = joins_n + 1 else prunes_n = prunes_n + 1 end
        end
        st:set_len(at - start)
    end
    local counts = string.format("%d join%s, %d prune%s", joins_n, joins_n == 1 and "" or "s",
                                 prunes_n, prunes_n == 1 and "" or "s")
    tree:append_text(": " .. counts)
    pinfo.cols.info:append(" [PIA-SM " .. counts .. "]")
    dissect_tail(t, at, tree, pinfo)
end

local function dissect_shortcut(t, tree, pinfo)
    if t:len() < SHORTCUT_LEN then
        tree:add_proto_expert_info(e.malformed, "Shortcut Request cut short")
        return
    end
    local hold = t(4, 2):uint()
    tree:add(f.holdtime, t(4, 2))
    tree:add(f.reserved, t(6, 2))
    tree:add(f.anycast, t(8, 16))
    tree:add(f.ingress, t(24, 16))
    local text = string.format(" for %s from %s%s", tostring(t(8, 16):ipv6()), tostring(t(24, 16):ipv6()),
                               hold == 0 and ", cancelled" or "")
    tree:append_text(text)
    pinfo.cols.info:append(text)
    dissect_tail(t, SHORTCUT_LEN, tree, pinfo)
end

-- Whether the address at octet x of t sorts strictly before the one at y.
local function before(t, x, y)
    for i = 0, 15 do
        local a, b = t(x + i, 1):uint(), t(y + i, 1):uint()
        if a ~= b then return a < b end
    end
    return false
end

local function dissect_announcement(t, tree, pinfo)
    if t:len() < ANNOUNCEMENT_FIXED then
        tree:add_proto_expert_info(e.malformed, "Branch Announcement cut short")
        return
    end
    local n = t(6, 2):uint()
    tree:add(f.holdtime, t(4, 2))
    local ni = tree:add(f.num_branches, t(6, 2))
    tree:add(f.version, t(8, 4))
    tree:add(f.table_len, t(12, 4))
    tree:add(f.hash_seed, t(16, 4))
    tree:add(f.anycast, t(20, 16))
    if n > MAX_BRANCHES then
        ni:add_proto_expert_info(e.refused, "More than 64 branches")
        return
    end
    if t:len() - ANNOUNCEMENT_FIXED < n * BRANCH_LEN then
        tree:add_proto_expert_info(e.malformed, n .. " branches do not fit the message")
        return
    end
    local prev = nil
    for i = 0, n - 1 do
        local at = ANNOUNCEMENT_FIXED + i * BRANCH_LEN
        local ep = t(at, 16)
        local st = tree:add(f.branch, t(at, BRANCH_LEN))
        st:add(f.br_endpoint, ep)
        local wi = st:add(f.br_weight, t(at + 16, 2))
        st:add(f.reserved, t(at + 18, 2))
        st:set_text(string.format("Branch %d: %s, weight %d", i + 1, tostring(ep:ipv6()), t(at + 16, 2):uint()))
        if t(at + 16, 2):uint() == 0 then
            wi:add_proto_expert_info(e.refused, "Weight 0")
        end
        if prev and not before(t, prev, at) then
            st:add_proto_expert_info(e.refused, "Branches not sorted by endpoint, or repeated")
        end
        prev = at
    end
    local text = string.format(" for %s, version %d, %d branches%s", tostring(t(20, 16):ipv6()),
                               t(8, 4):uint(), n, n == 0 and " (go through the core)" or "")
    tree:append_text(text)
    pinfo.cols.info:append(text)
    dissect_tail(t, ANNOUNCEMENT_FIXED + n * BRANCH_LEN, tree, pinfo)
end

function piasm.dissector(_, pinfo, root)
    local pim = pim_f()
    if not pim then return end
    local t = pim.range:tvb()
    if t:len() < 4 or bit.rshift(t(0, 1):uint(), 4) ~= 2 then return end
    local ptype = bit.band(t(0, 1):uint(), 0x0f)
    if ptype ~= TYPE_HELLO and ptype ~= TYPE_JOIN_PRUNE and ptype ~= TYPE_EXTENSION then return end
    local tree = root:add(piasm, t(), "PIA-SM")
    if ptype == TYPE_HELLO then
        tree:add(f.message, t(0, 1), "Hello")
        tree:append_text(" Hello")
        check_link(tree)
        dissect_hello(t, tree, pinfo)
    elseif ptype == TYPE_JOIN_PRUNE then
        tree:add(f.message, t(0, 1), "Join/Prune")
        tree:append_text(" Join/Prune")
        check_link(tree)
        dissect_join_prune(t, tree, pinfo)
    else
        local sub = bit.rshift(t(1, 1):uint(), 4)
        local name = subtypes[sub]
        local si = tree:add(f.subtype, t(1, 1))
        pinfo.cols.protocol = "PIA-SM"
        if not name then
            si:add_proto_expert_info(e.subtype)
            pinfo.cols.info = "PIA-SM unknown extension " .. sub
            return
        end
        tree:add(f.message, t(1, 1), name)
        tree:append_text(" " .. name)
        pinfo.cols.info = name
        if sub == 1 then
            dissect_shortcut(t, tree, pinfo)
        else
            dissect_announcement(t, tree, pinfo)
        end
    end
end

register_postdissector(piasm)

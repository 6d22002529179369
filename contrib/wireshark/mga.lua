-- Wireshark / tshark post-dissector for MGA, Mobile-IPv6-based Global
-- Anycast (anycast6, docs/mga.md). MGA messages are Mobility Header
-- messages (IPv6 next header 135): Wireshark's MIPv6 dissector shows
-- them, and this adds what tshark 4.0 leaves out (docs/mga.md §11): the
-- MH checksum, which it shows but does not check, and the anycast6
-- Experimental option (type 18), whose data it shows undecoded (and two
-- octets short): Magic, Version, and the sub-options Metric (1), Flow (2)
-- and Draining (3). What receivers refuse in it (another Magic or
-- Version, a sub-option cut short, a sub-type twice: §4.5) is an expert
-- error, as is a wrong checksum.
--
--   tshark -X lua_script:contrib/wireshark/mga.lua -r capture.pcap -V
--
-- Written from docs/mga.md §4, not from the Rust code, so that checking
-- captures of what anycast6 sends (scripts/check-dissector.sh) tests the
-- encoder against the spec. Filter with "mga".

local MAGIC, VERSION = 0xa6, 1
local SUB_METRIC, SUB_FLOW, SUB_DRAINING = 1, 2, 3
local PROTO_MH = 135

local mga = Proto("mga", "MGA, Mobile-IPv6-based Global Anycast")

local mh_types = { [0] = "Binding Refresh Request", [5] = "Binding Update",
                   [6] = "Binding Acknowledgement", [7] = "Binding Error" }
local sub_types = { [SUB_METRIC] = "Metric", [SUB_FLOW] = "Flow", [SUB_DRAINING] = "Draining" }
local sub_lengths = { [SUB_METRIC] = 4, [SUB_FLOW] = 38, [SUB_DRAINING] = 0 }

local f = {
    message       = ProtoField.string("mga.message", "Message"),
    checksum      = ProtoField.uint16("mga.checksum", "Checksum", base.HEX),
    checksum_ok   = ProtoField.bool("mga.checksum.good", "Checksum correct"),
    experimental  = ProtoField.none("mga.experimental", "anycast6 Experimental option (18)"),
    magic         = ProtoField.uint8("mga.magic", "Magic", base.HEX),
    version       = ProtoField.uint8("mga.version", "Version", base.DEC),
    sub           = ProtoField.none("mga.suboption", "Sub-option"),
    sub_type      = ProtoField.uint8("mga.suboption.type", "Sub-type", base.DEC, sub_types),
    sub_len       = ProtoField.uint8("mga.suboption.length", "Sub-length", base.DEC),
    metric        = ProtoField.uint32("mga.metric", "Metric", base.DEC),
    flow          = ProtoField.none("mga.flow", "Flow"),
    flow_proto    = ProtoField.uint8("mga.flow.protocol", "Protocol", base.DEC),
    flow_reserved = ProtoField.uint8("mga.flow.reserved", "Reserved", base.HEX),
    flow_cport    = ProtoField.uint16("mga.flow.correspondent_port", "Correspondent Port", base.DEC),
    flow_sport    = ProtoField.uint16("mga.flow.service_port", "Service Port", base.DEC),
    flow_cn       = ProtoField.ipv6("mga.flow.correspondent", "Correspondent Address"),
    flow_coa      = ProtoField.ipv6("mga.flow.care_of", "Care-of Address"),
    draining      = ProtoField.bool("mga.draining", "Draining (serves its flows, wants no new ones)"),
}
local keys = {}
for k in pairs(f) do keys[#keys + 1] = k end
table.sort(keys)
local fields = {}
for i, k in ipairs(keys) do fields[i] = f[k] end
mga.fields = fields

local function err(name, text)
    return ProtoExpert.new("mga." .. name, text, expert.group.MALFORMED, expert.severity.ERROR)
end
local e = {
    checksum = ProtoExpert.new("mga.bad_checksum", "Bad Mobility Header checksum (receivers drop it)",
                               expert.group.CHECKSUM, expert.severity.ERROR),
    refused  = err("refused", "Receivers refuse this option (bad_option)"),
}
mga.experts = { e.checksum, e.refused }

local mip6_f = Field.new("mipv6")
local em_f = Field.new("mip6.options.em")
local ipv6_src_f = Field.new("ipv6.src")
local ipv6_dst_f = Field.new("ipv6.dst")

-- The Internet checksum of the pseudo-header (src, dst, length, 135) and
-- the Mobility Header t, its Checksum field (octets 4, 5) as zero.
local function mh_checksum(src, dst, t)
    local sum = 0
    local function words(b, skip)
        for i = 0, b:len() - 1, 2 do
            if i ~= skip then
                local hi = b:get_index(i)
                local lo = (i + 1 < b:len()) and b:get_index(i + 1) or 0
                sum = sum + hi * 256 + lo
            end
        end
    end
    words(src)
    words(dst)
    local n = t:len()
    sum = sum + math.floor(n / 65536) + n % 65536 + PROTO_MH
    words(t:bytes(), 4)
    while sum > 0xffff do sum = math.floor(sum / 65536) + sum % 65536 end
    return 0xffff - sum
end

local function last(list)
    return list[#list]
end

local function dissect_flow(r, st)
    local ft = st:add(f.flow, r)
    ft:add(f.flow_proto, r(0, 1))
    ft:add(f.flow_reserved, r(1, 1))
    ft:add(f.flow_cport, r(2, 2))
    ft:add(f.flow_sport, r(4, 2))
    ft:add(f.flow_cn, r(6, 16))
    ft:add(f.flow_coa, r(22, 16))
    ft:append_text(string.format(": protocol %d, [%s]:%d to service port %d, care-of %s",
        r(0, 1):uint(), tostring(r(6, 16):ipv6()), r(2, 2):uint(), r(4, 2):uint(),
        tostring(r(22, 16):ipv6())))
end

-- The Experimental option's data r (Magic, Version, sub-options).
local function dissect_experimental(r, tree)
    local et = tree:add(f.experimental, r)
    if r:len() < 2 then
        et:add_proto_expert_info(e.refused, "Option 18 shorter than Magic and Version")
        return
    end
    et:add(f.magic, r(0, 1))
    et:add(f.version, r(1, 1))
    if r(0, 1):uint() ~= MAGIC then
        et:add_proto_expert_info(e.refused, string.format("Magic 0x%02x, not 0xa6", r(0, 1):uint()))
        return
    end
    if r(1, 1):uint() ~= VERSION then
        et:add_proto_expert_info(e.refused, "Version " .. r(1, 1):uint() .. ", not 1")
        return
    end
    local seen = {}
    local at = 2
    while at < r:len() do
        local st_type = r(at, 1):uint()
        if at + 2 > r:len() or at + 2 + r(at + 1, 1):uint() > r:len() then
            et:add_proto_expert_info(e.refused, "Sub-option " .. st_type .. " cut short")
            return
        end
        local len = r(at + 1, 1):uint()
        local st = et:add(f.sub, r(at, 2 + len))
        st:add(f.sub_type, r(at, 1))
        st:add(f.sub_len, r(at + 1, 1))
        st:set_text("Sub-option " .. (sub_types[st_type] or "unknown") .. " (" .. st_type .. ")")
        if seen[st_type] then
            st:add_proto_expert_info(e.refused, "Sub-type " .. st_type .. " twice")
        end
        seen[st_type] = true
        local want = sub_lengths[st_type]
        if want and want ~= len then
            st:add_proto_expert_info(e.refused,
                string.format("Sub-option %d of %d octets, not %d", st_type, len, want))
        elseif st_type == SUB_METRIC then
            st:add(f.metric, r(at + 2, 4))
            st:append_text(": " .. r(at + 2, 4):uint())
        elseif st_type == SUB_FLOW then
            dissect_flow(r(at + 2, len), st)
        elseif st_type == SUB_DRAINING then
            st:add(f.draining, r(at, 2), true)
        end
        at = at + 2 + len
    end
end

function mga.dissector(tvb, pinfo, root)
    local mh = mip6_f()
    if not mh then return end
    local t = mh.range:tvb()
    if t:len() < 6 then return end
    local tree = root:add(mga, t(), "MGA")
    local mh_type = t(2, 1):uint()
    local name = mh_types[mh_type] or ("MH type " .. mh_type)
    tree:add(f.message, t(2, 1), name)
    tree:append_text(" " .. name)
    local src, dst = last({ ipv6_src_f() }), last({ ipv6_dst_f() })
    if src and dst then
        local computed = mh_checksum(src.range:bytes(), dst.range:bytes(), t)
        local found = t(4, 2):uint()
        local ci = tree:add(f.checksum, t(4, 2))
        ci:add(f.checksum_ok, t(4, 2), computed == found):set_generated()
        if computed ~= found then
            ci:add_proto_expert_info(e.checksum,
                string.format("Checksum 0x%04x, computed 0x%04x", found, computed))
        else
            ci:append_text(" [correct]")
        end
    end
    -- tshark 4.0's mip6.em.data is two octets short: from where its
    -- option starts, read the option's own Length instead.
    for _, o in ipairs({ em_f() }) do
        local at = o.offset - mh.offset + 2
        if at >= 8 and at <= t:len() then
            local len = t(at - 1, 1):uint()
            if at + len <= t:len() then
                dissect_experimental(t(at, len), tree)
            else
                tree:add_proto_expert_info(e.refused, "Option 18 runs past the message")
            end
        end
    end
end

register_postdissector(mga)

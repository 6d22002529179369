-- Wireshark / tshark dissector for anycast6-stream (docs/stream.md):
-- Request, Data, End and Stop on UDP port 4740, with the optional
-- HMAC-SHA-256 trailer on Request and Stop.
--
--   tshark -X lua_script:contrib/wireshark/stream.lua -r capture.pcap -V
--   or copy it into ~/.local/lib/wireshark/plugins/
--
-- Written from docs/stream.md §3, not from the Rust code, so that checking
-- captures of what anycast6-stream sends tests the encoder against the spec.

local PORT = 4740
local HEADER_LEN = 12
local REQUEST_FIXED = 44
local RANGE_LEN = 12
local MAX_RANGES = 64
local DATA_FIXED = 24
local END_BODY = 16
local TRAILER_LEN = 44

local p = Proto("a6stream", "anycast6-stream")

local types = { [1] = "Request", [2] = "Data", [3] = "End", [4] = "Stop" }
local reasons = { [1] = "stopping", [2] = "no such content", [3] = "refused", [4] = "bad request" }

local f = {}
f.magic      = ProtoField.uint8("a6stream.magic", "Magic", base.HEX)
f.version    = ProtoField.uint8("a6stream.version", "Version", base.DEC)
f.type       = ProtoField.uint8("a6stream.type", "Type", base.DEC, types)
f.flags      = ProtoField.uint8("a6stream.flags", "Flags", base.HEX)
f.f_auth     = ProtoField.bool("a6stream.flags.auth", "Authentication trailer", 8, nil, 0x80)
f.f_start    = ProtoField.bool("a6stream.flags.start", "Start", 8, nil, 0x01)
f.f_stall    = ProtoField.bool("a6stream.flags.stall", "Stall", 8, nil, 0x02)
f.f_feedback = ProtoField.bool("a6stream.flags.feedback", "Feedback", 8, nil, 0x04)
f.f_playing  = ProtoField.bool("a6stream.flags.playing", "Playing", 8, nil, 0x08)
f.f_retrans  = ProtoField.bool("a6stream.flags.retransmit", "Retransmission", 8, nil, 0x01)
f.f_last     = ProtoField.bool("a6stream.flags.last", "Last datagram", 8, nil, 0x02)
f.session    = ProtoField.uint64("a6stream.session", "Session ID", base.HEX)
f.position   = ProtoField.uint64("a6stream.position", "Position", base.DEC)
f.play       = ProtoField.uint64("a6stream.play_position", "Play Position", base.DEC)
f.rate       = ProtoField.uint32("a6stream.rate", "Rate (octets/s)", base.DEC)
f.dsize      = ProtoField.uint16("a6stream.datagram_size", "Datagram Size", base.DEC)
f.buffer     = ProtoField.uint16("a6stream.buffer_ms", "Buffer Depth (ms)", base.DEC)
f.cport      = ProtoField.uint16("a6stream.client_port", "Client Port", base.DEC)
f.clen       = ProtoField.uint8("a6stream.content_length", "Content Length", base.DEC)
f.nranges    = ProtoField.uint8("a6stream.range_count", "Range Count", base.DEC)
f.client     = ProtoField.ipv6("a6stream.client", "Client Address")
f.content    = ProtoField.string("a6stream.content", "Content ID")
f.range      = ProtoField.none("a6stream.range", "Range")
f.r_first    = ProtoField.uint64("a6stream.range.first", "First Sequence", base.DEC)
f.r_count    = ProtoField.uint32("a6stream.range.count", "Count", base.DEC)
f.seq        = ProtoField.uint64("a6stream.seq", "Sequence Number", base.DEC)
f.total      = ProtoField.uint64("a6stream.total_length", "Content Total Length", base.DEC)
f.server     = ProtoField.uint32("a6stream.server_id", "Server ID", base.DEC)
f.plen       = ProtoField.uint16("a6stream.payload_length", "Payload Length", base.DEC)
f.reserved   = ProtoField.bytes("a6stream.reserved", "Reserved")
f.payload    = ProtoField.bytes("a6stream.payload", "Payload")
f.reason     = ProtoField.uint8("a6stream.end.reason", "Reason", base.DEC, reasons)
f.trailer    = ProtoField.none("a6stream.auth", "Authentication trailer")
f.key_id     = ProtoField.uint16("a6stream.auth.key_id", "Key ID", base.DEC)
f.timestamp  = ProtoField.uint64("a6stream.auth.timestamp", "Timestamp (ms since epoch)", base.DEC)
f.digest     = ProtoField.bytes("a6stream.auth.digest", "Digest (HMAC-SHA-256)")

local fields = {}
for _, k in ipairs({ "magic", "version", "type", "flags", "f_auth", "f_start", "f_stall", "f_feedback", "f_playing",
                     "f_retrans", "f_last", "session", "position", "play", "rate", "dsize", "buffer",
                     "cport", "clen", "nranges", "client", "content", "range", "r_first", "r_count",
                     "seq", "total", "server", "plen", "reserved", "payload", "reason", "trailer",
                     "key_id", "timestamp", "digest" }) do
    fields[#fields + 1] = f[k]
end
p.fields = fields

local e_malformed = ProtoExpert.new("a6stream.malformed", "Malformed anycast6-stream message",
                                    expert.group.MALFORMED, expert.severity.ERROR)
local e_field = ProtoExpert.new("a6stream.field.invalid", "Field out of range; receivers drop the message",
                                expert.group.PROTOCOL, expert.severity.ERROR)
p.experts = { e_malformed, e_field }

local function bad(tree, what)
    tree:add_proto_expert_info(e_malformed, what)
end

local function trailer(tvb, at, tree)
    if tvb:len() - at ~= TRAILER_LEN then
        bad(tree, string.format("authentication trailer: %d octets, must be %d", tvb:len() - at, TRAILER_LEN))
        return
    end
    local t = tree:add(f.trailer, tvb(at, TRAILER_LEN))
    t:add(f.key_id, tvb(at, 2))
    t:add(f.reserved, tvb(at + 2, 2))
    t:add(f.timestamp, tvb(at + 4, 8))
    t:add(f.digest, tvb(at + 12, 32))
end

local function request(tvb, tree, flags, pinfo)
    local len = tvb:len()
    if len < HEADER_LEN + REQUEST_FIXED then
        bad(tree, "Request shorter than its fixed fields")
        return
    end
    local o = HEADER_LEN
    tree:add(f.position, tvb(o, 8))
    tree:add(f.play, tvb(o + 8, 8))
    local rate = tree:add(f.rate, tvb(o + 16, 4))
    if tvb(o + 16, 4):uint() == 0 then rate:add_proto_expert_info(e_field, "Rate 0") end
    local ds = tvb(o + 20, 2):uint()
    local dsi = tree:add(f.dsize, tvb(o + 20, 2))
    if ds < 64 or ds > 1400 then dsi:add_proto_expert_info(e_field, "Datagram Size outside 64..1400") end
    tree:add(f.buffer, tvb(o + 22, 2))
    tree:add(f.cport, tvb(o + 24, 2))
    local clen = tvb(o + 26, 1):uint()
    local cl = tree:add(f.clen, tvb(o + 26, 1))
    if clen == 0 then cl:add_proto_expert_info(e_field, "Content Length 0") end
    local n = tvb(o + 27, 1):uint()
    local nr = tree:add(f.nranges, tvb(o + 27, 1))
    if n > MAX_RANGES then nr:add_proto_expert_info(e_field, "more than 64 ranges") end
    tree:add(f.client, tvb(o + 28, 16))
    o = o + REQUEST_FIXED
    if len < o + clen + n * RANGE_LEN then
        bad(tree, "Request shorter than its content id and ranges")
        return
    end
    if clen > 0 then
        tree:add(f.content, tvb(o, clen))
        pinfo.cols.info:append(" " .. tvb(o, clen):string())
    end
    o = o + clen
    local position = tvb(HEADER_LEN, 8):uint64()
    for _ = 1, n do
        local r = tree:add(f.range, tvb(o, RANGE_LEN))
        r:add(f.r_first, tvb(o, 8))
        r:add(f.r_count, tvb(o + 8, 4))
        local first, count = tvb(o, 8):uint64(), tvb(o + 8, 4):uint()
        r:append_text(string.format(": %s +%d", tostring(first), count))
        if count == 0 or first + count > position then
            r:add_proto_expert_info(e_field, "range empty or not below Position")
        end
        o = o + RANGE_LEN
    end
    if bit.band(flags, 0x80) ~= 0 then
        trailer(tvb, o, tree)
    elseif len ~= o then
        bad(tree, string.format("%d octets after the message", len - o))
    end
end

function p.dissector(tvb, pinfo, root)
    if tvb:len() < HEADER_LEN or tvb(0, 1):uint() ~= 0xA6 then
        return 0
    end
    pinfo.cols.protocol = "A6STREAM"
    local tree = root:add(p, tvb())
    tree:add(f.magic, tvb(0, 1))
    local v = tree:add(f.version, tvb(1, 1))
    if tvb(1, 1):uint() ~= 1 then v:add_proto_expert_info(e_field, "unknown version") end
    local ty = tvb(2, 1):uint()
    tree:add(f.type, tvb(2, 1))
    local flags = tvb(3, 1):uint()
    local fl = tree:add(f.flags, tvb(3, 1))
    tree:add(f.session, tvb(4, 8))
    pinfo.cols.info = (types[ty] or "Unknown") .. string.format(" session %s", tostring(tvb(4, 8):uint64():tohex()))
    if ty == 1 then
        fl:add(f.f_start, tvb(3, 1)); fl:add(f.f_stall, tvb(3, 1))
        fl:add(f.f_feedback, tvb(3, 1)); fl:add(f.f_playing, tvb(3, 1))
        fl:add(f.f_auth, tvb(3, 1))
        request(tvb, tree, flags, pinfo)
    elseif ty == 2 then
        fl:add(f.f_retrans, tvb(3, 1)); fl:add(f.f_last, tvb(3, 1))
        if tvb:len() < HEADER_LEN + DATA_FIXED then
            bad(tree, "Data shorter than its fixed fields")
            return tvb:len()
        end
        tree:add(f.seq, tvb(12, 8))
        tree:add(f.total, tvb(20, 8))
        tree:add(f.server, tvb(28, 4))
        local plen = tvb(32, 2):uint()
        tree:add(f.plen, tvb(32, 2))
        tree:add(f.reserved, tvb(34, 2))
        pinfo.cols.info:append(string.format(" seq %s from server %d", tostring(tvb(12, 8):uint64()), tvb(28, 4):uint()))
        if tvb:len() ~= HEADER_LEN + DATA_FIXED + plen then
            bad(tree, "Payload Length does not match the datagram")
        elseif plen > 0 then
            tree:add(f.payload, tvb(HEADER_LEN + DATA_FIXED, plen))
        end
    elseif ty == 3 then
        if tvb:len() ~= HEADER_LEN + END_BODY then
            bad(tree, string.format("End is %d octets, must be %d", tvb:len(), HEADER_LEN + END_BODY))
            return tvb:len()
        end
        local r = tree:add(f.reason, tvb(12, 1))
        if reasons[tvb(12, 1):uint()] == nil then r:add_proto_expert_info(e_field, "unknown reason") end
        tree:add(f.reserved, tvb(13, 3))
        tree:add(f.server, tvb(16, 4))
        tree:add(f.position, tvb(20, 8))
        pinfo.cols.info:append(" " .. (reasons[tvb(12, 1):uint()] or "?"))
    elseif ty == 4 then
        fl:add(f.f_auth, tvb(3, 1))
        if bit.band(flags, 0x80) ~= 0 then
            trailer(tvb, HEADER_LEN, tree)
        elseif tvb:len() ~= HEADER_LEN then
            bad(tree, "Stop carries octets after its header")
        end
    else
        tree:add_proto_expert_info(e_field, "unknown type")
    end
    return tvb:len()
end

DissectorTable.get("udp.port"):add(PORT, p)

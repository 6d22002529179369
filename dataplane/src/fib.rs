//! The FIB writer: routes, groups (members + Maglev table), tx ports and
//! the ingress interfaces' MACs in the pinned maps.
//!
//! A group is published with ONE update of `a6_groups`: its Maglev table is
//! first written to fresh `a6_maglev` blocks, then the group value (members,
//! table location, generation) replaces the old one, and the old blocks are
//! quarantined for a grace period before reuse (see [`crate::blocks`]). The
//! XDP program therefore sees the old group with the old table or the new
//! group with the new table, never a mix.

use std::collections::BTreeMap;
use std::{
    collections::HashMap as StdHashMap,
    net::Ipv6Addr,
    os::fd::{AsFd, AsRawFd},
    path::Path,
    time::Instant,
};

use aya::maps::{
    lpm_trie::{Key as LpmKey, LpmTrie},
    xdp::{DevMapHash, XdpMapError},
    Array, HashMap, Map, MapData, MapError, PerCpuArray,
};
use ipnetwork::Ipv6Network;

use crate::{
    abi::{self, map},
    blocks::{blocks_for, BlockAllocator, Shortage},
    changes,
    error::DataplaneError,
    types::*,
};

/// Where the writer gets its maps from: the freshly loaded object or the pins.
pub(crate) trait MapSource {
    fn take(&mut self, name: &'static str) -> Result<Map, DataplaneError>;
}

impl MapSource for aya::Ebpf {
    fn take(&mut self, name: &'static str) -> Result<Map, DataplaneError> {
        self.take_map(name).ok_or(DataplaneError::MapMissing(name))
    }
}

pub(crate) struct PinSource<'a>(pub &'a Path);

impl MapSource for PinSource<'_> {
    fn take(&mut self, name: &'static str) -> Result<Map, DataplaneError> {
        let data = MapData::from_pin(self.0.join(name)).map_err(|source| map_err(name, source))?;
        Map::from_map_data(data).map_err(|source| map_err(name, source))
    }
}

pub(crate) fn map_err(name: &'static str, source: MapError) -> DataplaneError {
    DataplaneError::MapAccess { name, source }
}

fn is_enoent(e: &MapError) -> bool {
    match e {
        MapError::KeyNotFound | MapError::ElementNotFound => true,
        MapError::SyscallError(s) => s.io_error.raw_os_error() == Some(libc::ENOENT),
        _ => false,
    }
}

/// Capacities of the maps as the kernel created them (pinned maps keep the
/// size they were created with, whatever a later open asks for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapCapacities {
    pub groups: u32,
    pub member_ids: u32,
    pub maglev_blocks: u32,
}

pub struct FibWriter {
    fib: HashMap<MapData, abi::FibKey, abi::FibVal>,
    prefix: LpmTrie<MapData, [u8; 16], abi::FibVal>,
    groups: HashMap<MapData, u32, abi::Group>,
    maglev: Array<MapData, abi::MaglevBlock>,
    tx_ports: DevMapHash<MapData>,
    stats: PerCpuArray<MapData, abi::Counter>,
    group_stats: PerCpuArray<MapData, abi::Counter>,
    member_stats: PerCpuArray<MapData, abi::Counter>,
    aarp: Array<MapData, u32>,
    ifaces: HashMap<MapData, u32, abi::Iface>,
    tun_local: HashMap<MapData, abi::FibKey, u32>,
    tun_stats: PerCpuArray<MapData, abi::Counter>,
    caps: MapCapacities,
    blocks: BlockAllocator,
    /// Last generation published per group, also for deleted groups, so a
    /// re-created group never reuses a generation live affinity entries hold.
    last_gen: StdHashMap<u32, u32>,
    /// Each group's last published state, with its open change period
    /// (docs/flow-hash.md section 3); not in the maps.
    states: StdHashMap<u32, changes::GroupState>,
    windows: changes::Windows,
    /// Table lengths asked for, by group id ([`FibWriter::set_table_lens`]).
    table_lens: BTreeMap<u32, u32>,
    /// Groups published without change periods ([`FibWriter::set_quiet_groups`]).
    quiet: std::collections::BTreeSet<u32>,
}

macro_rules! typed {
    ($src:expr, $name:expr) => {{
        let name: &'static str = $name;
        $src.take(name)?
            .try_into()
            .map_err(|source| map_err(name, source))?
    }};
}

impl FibWriter {
    pub(crate) fn from_source(src: &mut dyn MapSource) -> Result<FibWriter, DataplaneError> {
        let fib: HashMap<MapData, abi::FibKey, abi::FibVal> = typed!(src, map::FIB);
        let prefix: LpmTrie<MapData, [u8; 16], abi::FibVal> = typed!(src, map::FIB_PREFIX);
        let groups: HashMap<MapData, u32, abi::Group> = typed!(src, map::GROUPS);
        let maglev: Array<MapData, abi::MaglevBlock> = typed!(src, map::MAGLEV);
        let tx_ports: DevMapHash<MapData> = typed!(src, map::TX_PORTS);
        let stats: PerCpuArray<MapData, abi::Counter> = typed!(src, map::STATS);
        let group_stats: PerCpuArray<MapData, abi::Counter> = typed!(src, map::GROUP_STATS);
        let member_stats: PerCpuArray<MapData, abi::Counter> = typed!(src, map::MEMBER_STATS);
        let aarp: Array<MapData, u32> = typed!(src, map::AARP);
        let ifaces: HashMap<MapData, u32, abi::Iface> = typed!(src, map::IFACES);
        let tun_local: HashMap<MapData, abi::FibKey, u32> = typed!(src, map::TUN_LOCAL);
        let tun_stats: PerCpuArray<MapData, abi::Counter> = typed!(src, map::TUN_STATS);
        let caps = MapCapacities {
            groups: group_stats.len(),
            member_ids: member_stats.len(),
            maglev_blocks: maglev.len(),
        };
        let mut w = FibWriter {
            fib,
            prefix,
            groups,
            maglev,
            tx_ports,
            stats,
            group_stats,
            member_stats,
            aarp,
            ifaces,
            tun_local,
            tun_stats,
            caps,
            blocks: BlockAllocator::new(caps.maglev_blocks, []),
            last_gen: StdHashMap::new(),
            states: StdHashMap::new(),
            windows: changes::Windows::default(),
            table_lens: BTreeMap::new(),
            quiet: Default::default(),
        };
        w.resync()?;
        Ok(w)
    }

    /// A writer over the maps pinned in `pin_dir`, without loading any
    /// program (for tools that read a running dataplane: installed FIB,
    /// counters). Its block allocator is its own: do not publish groups
    /// through it while another writer (anycast6d) is publishing.
    pub fn from_pins(pin_dir: &Path) -> Result<FibWriter, DataplaneError> {
        Self::from_source(&mut PinSource(pin_dir))
    }

    /// Rebuilds the Maglev block allocator and the generations from the
    /// installed groups, so nothing live is overwritten after a restart.
    fn resync(&mut self) -> Result<(), DataplaneError> {
        let mut used = Vec::new();
        for item in self.groups.iter() {
            let (id, g) = item.map_err(|e| map_err(map::GROUPS, e))?;
            if g.maglev_len > 0 {
                used.push((g.maglev_block, blocks_for(g.maglev_len)));
            }
            if g.prev_len > 0 {
                used.push((g.prev_block, blocks_for(g.prev_len)));
            }
            self.last_gen.insert(id, g.gen);
        }
        used.sort_unstable();
        for w in used.windows(2) {
            if w[0].0 + w[0].1 > w[1].0 {
                tracing::error!(
                    first = ?w[0],
                    second = ?w[1],
                    "installed groups share Maglev blocks; keeping both ranges reserved"
                );
            }
        }
        self.blocks = BlockAllocator::new(self.caps.maglev_blocks, used);
        Ok(())
    }

    /// Capacities of the maps in the kernel.
    pub fn capacities(&self) -> MapCapacities {
        self.caps
    }

    /// Free Maglev blocks (now, and waiting out their grace period).
    pub fn maglev_free(&self) -> (u32, u32) {
        (self.blocks.free_blocks(), self.blocks.quarantined_blocks())
    }

    /// Reads routes, groups and tx ports back from the maps.
    pub fn installed(&self) -> Result<InstalledFib, DataplaneError> {
        let mut routes = Vec::new();
        for item in self.fib.iter() {
            let (k, v) = item.map_err(|e| map_err(map::FIB, e))?;
            routes.push((Route::Host(Ipv6Addr::from(k.addr)), v.group_id));
        }
        for item in self.prefix.iter() {
            let (k, v) = item.map_err(|e| map_err(map::FIB_PREFIX, e))?;
            let net =
                Ipv6Network::new(Ipv6Addr::from(k.data()), k.prefix_len() as u8).map_err(|e| {
                    DataplaneError::MapEntryInvalid {
                        map: map::FIB_PREFIX,
                        detail: e.to_string(),
                    }
                })?;
            routes.push((Route::Prefix(net), v.group_id));
        }
        routes.sort();

        let mut groups = Vec::new();
        for item in self.groups.iter() {
            let (group_id, g) = item.map_err(|e| map_err(map::GROUPS, e))?;
            groups.push(installed_group(group_id, &g)?);
        }
        groups.sort_by_key(|g| g.group_id);

        let mut tx_ports = Vec::new();
        for k in self.tx_ports.keys() {
            tx_ports.push(k.map_err(|e| map_err(map::TX_PORTS, e))?);
        }
        tx_ports.sort_unstable();
        Ok(InstalledFib {
            routes,
            groups,
            tx_ports,
            ifaces: self.ifaces()?,
        })
    }

    /// (ifindex, own MAC) of every interface in `a6_ifaces`, by ifindex.
    pub fn ifaces(&self) -> Result<Vec<(u32, [u8; 6])>, DataplaneError> {
        let mut v = Vec::new();
        for item in self.ifaces.iter() {
            let (i, f) = item.map_err(|e| map_err(map::IFACES, e))?;
            v.push((i, f.mac));
        }
        v.sort_unstable();
        Ok(v)
    }

    /// Records interface `ifindex` with its own MAC: the fast path then
    /// forwards (owned) frames it receives there only when they are sent
    /// to that MAC. Called by whoever attaches the program.
    pub fn set_iface(&mut self, ifindex: u32, mac: [u8; 6]) -> Result<(), DataplaneError> {
        self.ifaces
            .insert(ifindex, abi::Iface { mac, flags: 0 }, 0)
            .map_err(|e| map_err(map::IFACES, e))
    }

    /// Forgets interface `ifindex` (its frames then go to the kernel);
    /// removing one that is not there is not an error.
    pub fn delete_iface(&mut self, ifindex: u32) -> Result<(), DataplaneError> {
        match self.ifaces.remove(&ifindex) {
            Ok(()) => Ok(()),
            Err(e) if is_enoent(&e) => Ok(()),
            Err(e) => Err(map_err(map::IFACES, e)),
        }
    }

    /// One installed group, or `None`.
    pub fn group(&self, group_id: u32) -> Result<Option<InstalledGroup>, DataplaneError> {
        match self.groups.get(&group_id, 0) {
            Ok(g) => Ok(Some(installed_group(group_id, &g)?)),
            Err(e) if is_enoent(&e) => Ok(None),
            Err(e) => Err(map_err(map::GROUPS, e)),
        }
    }

    /// The group the FIB gives `dst`: the /128 first, then the longest
    /// matching prefix (the forwarding program's order).
    pub fn route_group(&self, dst: Ipv6Addr) -> Result<Option<u32>, DataplaneError> {
        match self.fib.get(&abi::FibKey { addr: dst.octets() }, 0) {
            Ok(v) => return Ok(Some(v.group_id)),
            Err(e) if is_enoent(&e) => {}
            Err(e) => return Err(map_err(map::FIB, e)),
        }
        match self.prefix.get(&LpmKey::new(128, dst.octets()), 0) {
            Ok(v) => Ok(Some(v.group_id)),
            Err(e) if is_enoent(&e) => Ok(None),
            Err(e) => Err(map_err(map::FIB_PREFIX, e)),
        }
    }

    /// The member the forwarding program gives a flow it has not seen
    /// (no affinity entry yet): the installed Maglev table at the flow hash
    /// of `key`, among the active members. None when the destination is
    /// not owned or its group has no active member.
    pub fn new_flow_member(
        &self,
        key: &abi::FlowKey,
        seed: u32,
    ) -> Result<Option<MemberSpec>, DataplaneError> {
        let Some(gid) = self.route_group(Ipv6Addr::from(key.dst))? else {
            return Ok(None);
        };
        let (Some(g), Some(table)) = (self.group(gid)?, self.maglev_table(gid)?) else {
            return Ok(None);
        };
        if table.is_empty() {
            return Ok(None);
        }
        let h = crate::flowhash::flow_hash(key, seed);
        let idx = table[(h % table.len() as u32) as usize] as usize;
        Ok(g.members
            .get(idx)
            .filter(|m| m.state == crate::MemberState::Active)
            .copied())
    }

    /// The Maglev table of an installed group, read back from its blocks
    /// (entries are indices into the group's members).
    pub fn maglev_table(&self, group_id: u32) -> Result<Option<Vec<u8>>, DataplaneError> {
        let g = match self.groups.get(&group_id, 0) {
            Ok(g) => g,
            Err(e) if is_enoent(&e) => return Ok(None),
            Err(e) => return Err(map_err(map::GROUPS, e)),
        };
        let e = self.read_entries(g.maglev_block, g.maglev_len)?;
        Ok(Some(e.iter().map(|x| x.idx).collect()))
    }

    /// Publishes `members` as group `group_id` with ONE update of a6_groups:
    /// builds the Maglev table over the active members, writes it to fresh
    /// blocks, bumps the generation, publishes, then releases the old
    /// blocks after a grace period. At most `abi::MAX_MEMBERS` members.
    ///
    /// Only members that are `Active` with a non-zero weight get table
    /// entries; draining and down members keep their place in the group
    /// (affinity finds them by id) but get no new flows. With no such
    /// member the group has no table (`maglev_len` 0).
    pub fn publish_group(
        &mut self,
        group_id: u32,
        members: &[MemberSpec],
    ) -> Result<(), DataplaneError> {
        if members.len() > abi::MAX_MEMBERS {
            return Err(DataplaneError::GroupTooLarge {
                group_id,
                count: members.len(),
                max: abi::MAX_MEMBERS,
            });
        }
        if group_id >= self.caps.groups {
            return Err(DataplaneError::GroupIdOutOfRange(group_id));
        }
        if let Some(m) = members.iter().find(|m| m.member_id >= self.caps.member_ids) {
            return Err(DataplaneError::MemberIdOutOfRange(m.member_id));
        }

        let old = match self.groups.get(&group_id, 0) {
            Ok(g) => Some(g),
            Err(e) if is_enoent(&e) => None,
            Err(e) => return Err(map_err(map::GROUPS, e)),
        };
        // The previous state: remembered, or read back from the maps (a
        // restarted writer: it has no open period to carry on).
        let old_state = match (old, self.states.remove(&group_id)) {
            (Some(g), Some(st)) if st.gen == g.gen => Some(st),
            (Some(g), _) => Some(self.read_state(&g)?),
            (None, _) => None,
        };
        let prev_gen = old
            .map(|g| g.gen)
            .into_iter()
            .chain(self.last_gen.get(&group_id).copied())
            .max()
            .unwrap_or(0);
        let gen = prev_gen.wrapping_add(1);
        // A length asked for (a PIA-SM shortcut's copy of the core's table):
        // no change periods either, the core's affinity decides (§8).
        let (windows, want_len) = match self.table_lens.get(&group_id) {
            Some(l) => (changes::Windows::NONE, Some(*l)),
            None if self.quiet.contains(&group_id) => (changes::Windows::NONE, None),
            None => (self.windows, None),
        };
        let st = changes::plan_with_len(
            old_state.as_ref(),
            members,
            gen,
            changes::monotonic_ns(),
            windows,
            want_len,
        );
        let len = st.table.len() as u32;
        let active = members
            .iter()
            .filter(|m| m.state == MemberState::Active && m.weight > 0)
            .count();

        let nblocks = blocks_for(len);
        let start = self.alloc_blocks(nblocks)?;
        if let Err(e) = self.write_entries(start, &st.table, &st.marks) {
            self.blocks.free_now(start, nblocks);
            return Err(e);
        }
        let plen = st.prev_table.len() as u32;
        let pblocks = blocks_for(plen);
        let pstart = if plen > 0 {
            let p = match self.alloc_blocks(pblocks) {
                Ok(p) => p,
                Err(e) => {
                    self.blocks.free_now(start, nblocks);
                    return Err(e);
                }
            };
            if let Err(e) = self.write_entries(p, &st.prev_table, &[]) {
                self.blocks.free_now(start, nblocks);
                self.blocks.free_now(p, pblocks);
                return Err(e);
            }
            p
        } else {
            0
        };

        let mut g = abi::Group {
            gen,
            maglev_block: if len > 0 { start } else { 0 },
            maglev_len: len,
            n_members: members.len() as u16,
            mark_gen: st.mark_gen,
            prev_block: pstart,
            prev_len: plen,
            grace_until_ns: st.grace_until_ns,
            hold_until_ns: st.hold_until_ns,
            ..abi::Group::default()
        };
        for (slot, m) in g.members.iter_mut().zip(&st.members) {
            *slot = *m;
        }
        if let Err(e) = self.groups.insert(group_id, g, 0) {
            self.blocks.free_now(start, nblocks);
            if plen > 0 {
                self.blocks.free_now(pstart, pblocks);
            }
            return Err(map_err(map::GROUPS, e));
        }
        self.last_gen.insert(group_id, gen);
        if let Some(o) = old {
            self.release_tables(&o);
        }
        tracing::debug!(
            group_id,
            gen,
            members = members.len(),
            active,
            maglev_len = len,
            maglev_block = start,
            marked = st.marks.iter().filter(|m| **m != 0).count(),
            prev_len = plen,
            "group published"
        );
        self.states.insert(group_id, st);
        Ok(())
    }

    /// Table lengths by group id for the next publishes (the others get
    /// [`crate::maglev::next_table_len`]); such a group has no change
    /// periods. An unusable length is ignored (`maglev::usable_len`).
    pub fn set_table_lens(&mut self, lens: BTreeMap<u32, u32>) {
        self.table_lens = lens;
    }

    /// Groups the next publishes give no change period (the control plane
    /// knows they carry no flows to keep: a standby PIA-SM core).
    pub fn set_quiet_groups(&mut self, quiet: std::collections::BTreeSet<u32>) {
        self.quiet = quiet;
    }

    /// Sets the windows of the change rule for the next publishes
    /// (`[daemon] flow_grace_ms` / `flow_hold_s`; docs/flow-hash.md).
    pub fn set_windows(&mut self, w: changes::Windows) {
        self.windows = w;
    }

    pub fn windows(&self) -> changes::Windows {
        self.windows
    }

    /// Releases a replaced or deleted group's table and period table after
    /// the grace period.
    fn release_tables(&mut self, o: &abi::Group) {
        let now = Instant::now();
        if o.maglev_len > 0 {
            self.blocks
                .release(o.maglev_block, blocks_for(o.maglev_len), now);
        }
        if o.prev_len > 0 {
            self.blocks
                .release(o.prev_block, blocks_for(o.prev_len), now);
        }
    }

    /// Entries (member index, mark) of `len` entries from `start`.
    fn read_entries(&self, start: u32, len: u32) -> Result<Vec<abi::MaglevEntry>, DataplaneError> {
        let mut v = Vec::with_capacity(len as usize);
        for b in 0..blocks_for(len) {
            let blk = self
                .maglev
                .get(&(start + b), 0)
                .map_err(|e| map_err(map::MAGLEV, e))?;
            v.extend_from_slice(&blk.e);
        }
        v.truncate(len as usize);
        Ok(v)
    }

    /// An installed group as the change planner sees it, read from the maps.
    fn read_state(&self, g: &abi::Group) -> Result<changes::GroupState, DataplaneError> {
        let e = self.read_entries(g.maglev_block, g.maglev_len)?;
        let prev = self.read_entries(g.prev_block, g.prev_len)?;
        Ok(changes::GroupState {
            gen: g.gen,
            members: g.members().to_vec(),
            table: e.iter().map(|x| x.idx).collect(),
            marks: e.iter().map(|x| x.mark).collect(),
            prev_table: prev.iter().map(|x| x.idx).collect(),
            mark_gen: g.mark_gen,
            grace_until_ns: g.grace_until_ns,
            hold_until_ns: g.hold_until_ns,
            period: None,
        })
    }

    /// Takes `n` blocks, waiting for quarantined ranges to age if needed.
    fn alloc_blocks(&mut self, n: u32) -> Result<u32, DataplaneError> {
        loop {
            match self.blocks.alloc(n, Instant::now()) {
                Ok(s) => return Ok(s),
                Err(Shortage::Wait(d)) => std::thread::sleep(d),
                Err(Shortage::Exhausted { needed, free }) => {
                    return Err(DataplaneError::MaglevSpaceExhausted { needed, free })
                }
            }
        }
    }

    /// Writes entries (member index and mark; marks default to 0) from block `start`.
    fn write_entries(
        &mut self,
        start: u32,
        table: &[u8],
        marks: &[u8],
    ) -> Result<(), DataplaneError> {
        for (b, chunk) in table.chunks(abi::MAGLEV_BLOCK).enumerate() {
            let mut blk = abi::MaglevBlock::default();
            for (j, idx) in chunk.iter().enumerate() {
                blk.e[j] = abi::MaglevEntry {
                    idx: *idx,
                    mark: marks.get(b * abi::MAGLEV_BLOCK + j).copied().unwrap_or(0),
                };
            }
            self.maglev
                .set(start + b as u32, blk, 0)
                .map_err(|e| map_err(map::MAGLEV, e))?;
        }
        Ok(())
    }

    /// Removes a group (its routes must be removed first). Removing a group
    /// that is not installed is not an error.
    pub fn delete_group(&mut self, group_id: u32) -> Result<(), DataplaneError> {
        let old = match self.groups.get(&group_id, 0) {
            Ok(g) => g,
            Err(e) if is_enoent(&e) => return Ok(()),
            Err(e) => return Err(map_err(map::GROUPS, e)),
        };
        match self.groups.remove(&group_id) {
            Ok(()) => {}
            Err(e) if is_enoent(&e) => {}
            Err(e) => return Err(map_err(map::GROUPS, e)),
        }
        self.states.remove(&group_id);
        self.release_tables(&old);
        Ok(())
    }

    pub fn set_route(&mut self, route: Route, group_id: u32) -> Result<(), DataplaneError> {
        if group_id >= self.caps.groups {
            return Err(DataplaneError::GroupIdOutOfRange(group_id));
        }
        match route {
            Route::Host(a) => self
                .fib
                .insert(
                    abi::FibKey { addr: a.octets() },
                    abi::FibVal { group_id, flags: 0 },
                    0,
                )
                .map_err(|e| map_err(map::FIB, e)),
            Route::Prefix(n) => self
                .prefix
                .insert(
                    &LpmKey::new(u32::from(n.prefix()), n.network().octets()),
                    abi::FibVal {
                        group_id,
                        flags: abi::FIB_F_PREFIX,
                    },
                    0,
                )
                .map_err(|e| map_err(map::FIB_PREFIX, e)),
        }
    }

    /// Removes a route; removing a route that is not installed is not an error.
    pub fn delete_route(&mut self, route: Route) -> Result<(), DataplaneError> {
        let (name, r) = match route {
            Route::Host(a) => (map::FIB, self.fib.remove(&abi::FibKey { addr: a.octets() })),
            Route::Prefix(n) => (
                map::FIB_PREFIX,
                self.prefix
                    .remove(&LpmKey::new(u32::from(n.prefix()), n.network().octets())),
            ),
        };
        match r {
            Ok(()) => Ok(()),
            Err(e) if is_enoent(&e) => Ok(()),
            Err(e) => Err(map_err(name, e)),
        }
    }

    pub fn set_tx_port(&mut self, ifindex: u32) -> Result<(), DataplaneError> {
        self.tx_ports
            .insert(ifindex, ifindex, None, 0)
            .map_err(|e| match e {
                XdpMapError::MapError(source) => map_err(map::TX_PORTS, source),
                other => DataplaneError::TxPortInvalid {
                    ifindex,
                    reason: other.to_string(),
                },
            })
    }

    /// Whether AARP queries to owned addresses go to the kernel (this
    /// router answers them) instead of to a member.
    pub fn set_aarp_answer(&mut self, on: bool) -> Result<(), DataplaneError> {
        self.aarp
            .set(0, u32::from(on), 0)
            .map_err(|e| map_err(map::AARP, e))
    }

    pub fn aarp_answer(&self) -> Result<bool, DataplaneError> {
        self.aarp
            .get(&0, 0)
            .map(|v| v != 0)
            .map_err(|e| map_err(map::AARP, e))
    }

    /// Removes a tx port; removing one that is not there is not an error.
    pub fn delete_tx_port(&mut self, ifindex: u32) -> Result<(), DataplaneError> {
        match self.tx_ports.remove(ifindex) {
            Ok(()) => Ok(()),
            Err(e) if is_enoent(&e) => Ok(()),
            Err(e) => Err(map_err(map::TX_PORTS, e)),
        }
    }

    /// Makes `a6_tun_local` hold exactly `addrs`: this router's tunnel end
    /// points, whose IPv6-in-IPv6 packets the fast path decapsulates and
    /// forwards (docs/architecture.md "Tunnel end point"). Missing ones are
    /// inserted, extra ones deleted; unchanged ones are not touched.
    pub fn set_tunnel_endpoints(
        &mut self,
        addrs: &std::collections::BTreeSet<Ipv6Addr>,
    ) -> Result<(), DataplaneError> {
        let have = self.tunnel_endpoints()?;
        for a in have.difference(addrs) {
            match self.tun_local.remove(&abi::FibKey { addr: a.octets() }) {
                Ok(()) => {}
                Err(e) if is_enoent(&e) => {}
                Err(e) => return Err(map_err(map::TUN_LOCAL, e)),
            }
        }
        for a in addrs.difference(&have) {
            self.tun_local
                .insert(abi::FibKey { addr: a.octets() }, 1, 0)
                .map_err(|e| map_err(map::TUN_LOCAL, e))?;
        }
        Ok(())
    }

    /// The tunnel end points in `a6_tun_local`.
    pub fn tunnel_endpoints(&self) -> Result<std::collections::BTreeSet<Ipv6Addr>, DataplaneError> {
        let mut out = std::collections::BTreeSet::new();
        for k in self.tun_local.keys() {
            out.insert(Ipv6Addr::from(
                k.map_err(|e| map_err(map::TUN_LOCAL, e))?.addr,
            ));
        }
        Ok(out)
    }

    /// Decapsulations at the tunnel end points: (name, packets, bytes) for
    /// every `abi::tun_reason`, in order, summed over CPUs. Bytes are the
    /// frames as they arrived (outer header included).
    pub fn tunnel_counters(&self) -> Result<Vec<(&'static str, u64, u64)>, DataplaneError> {
        let mut out = Vec::with_capacity(abi::tun_reason::NAMES.len());
        for (i, name) in abi::tun_reason::NAMES.iter().enumerate() {
            let v = self
                .tun_stats
                .get(&(i as u32), 0)
                .map_err(|e| map_err(map::TUN_STATS, e))?;
            let (p, b) = v.iter().fold((0u64, 0u64), |(p, b), c| {
                (p.wrapping_add(c.packets), b.wrapping_add(c.bytes))
            });
            out.push((*name, p, b));
        }
        Ok(out)
    }

    /// Counters summed over CPUs: every reason in ABI order; groups and
    /// members only where non-zero, by id.
    pub fn counters(&self) -> Result<Counters, DataplaneError> {
        Ok(Counters {
            reasons: self.reason_counters()?,
            groups: percpu_nonzero(&self.group_stats, map::GROUP_STATS)?,
            members: percpu_nonzero(&self.member_stats, map::MEMBER_STATS)?,
        })
    }

    /// One group's (packets, bytes), summed over CPUs (one lookup).
    pub fn group_counter(&self, group_id: u32) -> Result<(u64, u64), DataplaneError> {
        let v = self
            .group_stats
            .get(&group_id, 0)
            .map_err(|e| map_err(map::GROUP_STATS, e))?;
        Ok(v.iter().fold((0u64, 0u64), |(p, b), c| {
            (p.wrapping_add(c.packets), b.wrapping_add(c.bytes))
        }))
    }

    /// Only the per-reason counters (cheap: one lookup per reason).
    pub fn reason_counters(&self) -> Result<Vec<(abi::Reason, u64, u64)>, DataplaneError> {
        let mut reasons = Vec::with_capacity(abi::Reason::ALL.len());
        for r in abi::Reason::ALL {
            let v = self
                .stats
                .get(&(r as u32), 0)
                .map_err(|e| map_err(map::STATS, e))?;
            let (p, b) = v.iter().fold((0u64, 0u64), |(p, b), c| {
                (p.wrapping_add(c.packets), b.wrapping_add(c.bytes))
            });
            reasons.push((r, p, b));
        }
        Ok(reasons)
    }
}

/// Non-zero elements of a per-CPU counter array, summed over CPUs. One
/// batched system call per 4096 elements; element by element if the kernel
/// refuses batches.
fn percpu_nonzero(
    arr: &PerCpuArray<MapData, abi::Counter>,
    name: &'static str,
) -> Result<Vec<(u32, u64, u64)>, DataplaneError> {
    use aya::maps::IterableMap;
    let fd = arr.map().fd().as_fd().as_raw_fd();
    match crate::sys::percpu_counters_nonzero(fd, arr.len()) {
        Ok(v) => Ok(v),
        Err(e) => {
            tracing::debug!(map = name, error = %e, "batched lookup refused; reading element by element");
            let mut out = Vec::new();
            for (i, v) in arr.iter().enumerate() {
                let v = v.map_err(|e| map_err(name, e))?;
                let (p, b) = v.iter().fold((0u64, 0u64), |(p, b), c| {
                    (p.wrapping_add(c.packets), b.wrapping_add(c.bytes))
                });
                if p != 0 || b != 0 {
                    out.push((i as u32, p, b));
                }
            }
            Ok(out)
        }
    }
}

pub(crate) fn member_to_abi(m: &MemberSpec) -> abi::Member {
    abi::Member {
        unicast: m.unicast.octets(),
        encap_src: m.encap_src.octets(),
        dmac: m.dmac,
        smac: m.smac,
        ifindex: m.ifindex,
        member_id: m.member_id,
        mtu: m.mtu,
        action: m.action.to_abi(),
        state: m.state.to_abi(),
        weight: m.weight,
        _pad0: 0,
        since_gen: 0,
    }
}

fn installed_group(group_id: u32, g: &abi::Group) -> Result<InstalledGroup, DataplaneError> {
    if usize::from(g.n_members) > abi::MAX_MEMBERS {
        return Err(DataplaneError::MapEntryInvalid {
            map: map::GROUPS,
            detail: format!("group {group_id}: n_members {}", g.n_members),
        });
    }
    let mut members = Vec::with_capacity(g.members().len());
    for m in g.members() {
        let invalid = |what: &str, v: u8| DataplaneError::MapEntryInvalid {
            map: map::GROUPS,
            detail: format!("group {group_id} member {}: {what} {v}", m.member_id),
        };
        members.push(MemberSpec {
            member_id: m.member_id,
            unicast: Ipv6Addr::from(m.unicast),
            encap_src: Ipv6Addr::from(m.encap_src),
            ifindex: m.ifindex,
            dmac: m.dmac,
            smac: m.smac,
            mtu: m.mtu,
            action: Action::from_abi(m.action).ok_or_else(|| invalid("action", m.action))?,
            state: MemberState::from_abi(m.state).ok_or_else(|| invalid("state", m.state))?,
            weight: m.weight,
        });
    }
    Ok(InstalledGroup {
        group_id,
        gen: g.gen,
        maglev_block: g.maglev_block,
        maglev_len: g.maglev_len,
        members,
    })
}

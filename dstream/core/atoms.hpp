// The words of Tributary's actor protocols (CAF atoms, at most 10
// characters in CAF 0.17). User actors meet snapshot_atom, restore_atom
// (checkpoints of actor operators) and process_atom (actor operators).
#pragma once

#include <caf/atom.hpp>

namespace trib {

// Atoms (at most 10 characters in CAF 0.17).
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using slot_atom = caf::atom_constant<caf::atom("slot")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using restore_atom = caf::atom_constant<caf::atom("restore")>;
using truncate_atom = caf::atom_constant<caf::atom("truncate")>;
using rate_atom = caf::atom_constant<caf::atom("rate")>;
using join_atom = caf::atom_constant<caf::atom("join")>;
using joined_atom = caf::atom_constant<caf::atom("joined")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using check_atom = caf::atom_constant<caf::atom("check")>;
using fetch_atom = caf::atom_constant<caf::atom("fetch")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using drop_atom = caf::atom_constant<caf::atom("drop")>;
using evicted_atom = caf::atom_constant<caf::atom("evicted")>;
using process_atom = caf::atom_constant<caf::atom("process")>;
using poll_atom = caf::atom_constant<caf::atom("poll")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using input_end_atom = caf::atom_constant<caf::atom("inputend")>;

}  // namespace trib

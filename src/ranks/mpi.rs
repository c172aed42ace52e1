//! [`Comm`] over the system's MPI library (Open MPI or MPICH), through the
//! `mpi` crate (rsmpi): the `mpi` cargo feature.

use super::Comm;
use mpi::collective::SystemOperation;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

/// MPI's world communicator. MPI is finalised when it is dropped.
pub struct World {
    world: SimpleCommunicator,
    local_rank: usize,
    library: String,
    // dropped last: MPI_Finalize
    _universe: Universe,
}

// SAFETY: MPI is initialised with MPI_THREAD_SINGLE semantics for nacc's
// use: every call comes from the one thread that runs the command (the
// rayon threads of the engines never call MPI), one call at a time.
unsafe impl Send for World {}
unsafe impl Sync for World {}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rank {} of {} ({})",
            self.rank(),
            self.size(),
            self.library
        )
    }
}

impl World {
    /// Initialises MPI; None when it already was.
    pub fn init() -> Option<World> {
        let universe = mpi::initialize()?;
        let world = universe.world();
        // the ranks sharing this node, numbered from 0: which GPU is ours
        let local_rank = world.split_shared(0).rank() as usize;
        let library = mpi::environment::library_version()
            .ok()
            // "Open MPI v4.1.4, package: ...", "MPICH Version: 4.0.2 ...": its name
            .and_then(|v| {
                v.split([',', '\n', '\0'])
                    .next()
                    .map(|l| l.trim().to_string())
            })
            .unwrap_or_else(|| "MPI".into());
        Some(World {
            world,
            local_rank,
            library,
            _universe: universe,
        })
    }
}

impl Comm for World {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn local_rank(&self) -> usize {
        self.local_rank
    }

    fn all_gather(&self, mine: &[u32]) -> Vec<Vec<u32>> {
        let n = self.size();
        let mut counts = vec![0i32; n];
        self.world
            .all_gather_into(&(mine.len() as i32), &mut counts[..]);
        let displs: Vec<i32> = counts
            .iter()
            .scan(0i32, |at, &c| {
                let d = *at;
                *at += c;
                Some(d)
            })
            .collect();
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let mut all = vec![0u32; total];
        {
            let mut parts = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
            self.world.all_gather_varcount_into(mine, &mut parts);
        }
        counts
            .iter()
            .zip(&displs)
            .map(|(&c, &d)| all[d as usize..(d + c) as usize].to_vec())
            .collect()
    }

    fn max(&self, x: u64) -> u64 {
        let mut y = 0u64;
        self.world
            .all_reduce_into(&x, &mut y, SystemOperation::max());
        y
    }

    fn library(&self) -> String {
        self.library.clone()
    }
}

// The differences between the Slurm series heteroscale builds against (22.05 .. 24.11,
// cmake/Slurm.cmake), in one place. Each is a capability check on the headers of the series
// being built, read from Debian 12's Slurm 22.05.8 and Debian 13's 24.11.5 headers:
//  - slurm_get_errno() is declared in 22.05's slurm_errno.h and gone in 24.11's: libslurm
//    reports its errors in errno itself (slurm_errno.h: it "relies on overloading the libc
//    errno"), so errno is read on every series.
//  - bit 1 of slurm_kill_job2()'s flags was KILL_JOB_ARRAY in 22.05 ("kill all elements of a
//    job array") and is KILL_ARRAY_TASK in 24.11 ("kill single task of a job array"): the same
//    bit, the opposite meaning. Cancelling a whole array takes the flag on 22.05 and no flag
//    where it is gone (its array job id alone then means every element).
// Internal to hs_scaler_slurm; include after <slurm/slurm.h>.
#pragma once

#include <cerrno>
#include <cstdint>

namespace hs::scaler::slurm_shim {

inline int last_error() { return errno; }

#ifdef KILL_JOB_ARRAY
inline constexpr uint16_t kKillWholeArray = KILL_JOB_ARRAY;
#else
inline constexpr uint16_t kKillWholeArray = 0;
#endif

}  // namespace hs::scaler::slurm_shim

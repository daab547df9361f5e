// A set of small non-negative ids (CPUs, NUMA nodes, GPU indices) in the list syntax that
// Linux (Cpus_allowed_list, /sys/.../cpulist), Slurm and numactl use: "0-17,36-53".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hs/common/error.h"

namespace hs {

class IdSet {
 public:
  IdSet() = default;
  // From any ids; duplicates are dropped.
  explicit IdSet(std::vector<uint32_t> ids);

  // Strict list syntax: comma-separated ids or "a-b" ranges (a <= b), no spaces, no empty
  // items; "" is the empty set. Ids above `max_id` (default 1<<20) are rejected so that a
  // hostile "0-4294967295" cannot allocate gigabytes. Errors name the bad item.
  static Result<IdSet> parse(std::string_view text, uint32_t max_id = 1u << 20);

  // Canonical list syntax, ranges merged: {0,1,2,5} -> "0-2,5"; empty -> "".
  std::string to_string() const;

  bool empty() const { return ids_.empty(); }
  size_t size() const { return ids_.size(); }
  bool contains(uint32_t id) const;
  const std::vector<uint32_t>& ids() const { return ids_; }  // sorted ascending
  uint32_t first() const { return ids_.front(); }            // requires !empty()

  void insert(uint32_t id);
  IdSet intersect(const IdSet& other) const;
  IdSet unite(const IdSet& other) const;
  IdSet minus(const IdSet& other) const;
  bool is_subset_of(const IdSet& other) const;
  bool intersects(const IdSet& other) const { return !intersect(other).empty(); }

  friend bool operator==(const IdSet&, const IdSet&) = default;

 private:
  std::vector<uint32_t> ids_;  // sorted, unique
};

}  // namespace hs

#include "hs/common/id_set.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "hs/common/text.h"

namespace hs {

IdSet::IdSet(std::vector<uint32_t> ids) : ids_(std::move(ids)) {
  std::sort(ids_.begin(), ids_.end());
  ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
}

Result<IdSet> IdSet::parse(std::string_view text, uint32_t max_id) {
  std::vector<uint32_t> ids;
  if (text.empty()) return IdSet();
  for (std::string_view item : split(text, ',')) {
    if (item.empty()) return invalid_argument("empty item in id list " + quote(text));
    size_t dash = item.find('-');
    std::string_view lo_s = dash == std::string_view::npos ? item : item.substr(0, dash);
    std::string_view hi_s = dash == std::string_view::npos ? item : item.substr(dash + 1);
    auto lo = parse_u64(lo_s);
    auto hi = parse_u64(hi_s);
    if (!lo.ok() || !hi.ok())
      return invalid_argument("bad item " + quote(item) + " in id list " + quote(text));
    if (*lo > *hi)
      return invalid_argument("descending range " + quote(item) + " in id list " + quote(text));
    if (*hi > max_id)
      return invalid_argument("id " + std::to_string(*hi) + " in " + quote(text) +
                              " exceeds the limit " + std::to_string(max_id));
    for (uint64_t v = *lo; v <= *hi; ++v) ids.push_back(static_cast<uint32_t>(v));
  }
  return IdSet(std::move(ids));
}

std::string IdSet::to_string() const {
  std::string out;
  size_t i = 0;
  while (i < ids_.size()) {
    size_t j = i;
    while (j + 1 < ids_.size() && ids_[j + 1] == ids_[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(ids_[i]);
    if (j > i) {
      out += '-';
      out += std::to_string(ids_[j]);
    }
    i = j + 1;
  }
  return out;
}

bool IdSet::contains(uint32_t id) const { return std::binary_search(ids_.begin(), ids_.end(), id); }

void IdSet::insert(uint32_t id) {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) ids_.insert(it, id);
}

IdSet IdSet::intersect(const IdSet& o) const {
  IdSet r;
  std::set_intersection(ids_.begin(), ids_.end(), o.ids_.begin(), o.ids_.end(),
                        std::back_inserter(r.ids_));
  return r;
}

IdSet IdSet::unite(const IdSet& o) const {
  IdSet r;
  std::set_union(ids_.begin(), ids_.end(), o.ids_.begin(), o.ids_.end(),
                 std::back_inserter(r.ids_));
  return r;
}

IdSet IdSet::minus(const IdSet& o) const {
  IdSet r;
  std::set_difference(ids_.begin(), ids_.end(), o.ids_.begin(), o.ids_.end(),
                      std::back_inserter(r.ids_));
  return r;
}

bool IdSet::is_subset_of(const IdSet& o) const {
  return std::includes(o.ids_.begin(), o.ids_.end(), ids_.begin(), ids_.end());
}

}  // namespace hs

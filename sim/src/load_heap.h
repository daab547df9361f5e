// The router's choice of instance in O(log n): a binary min-heap of instance ids ordered by
// (load, id), the position of each id kept in the instance itself, so that the least-loaded
// instance is read in O(1), a load change costs O(log n) and nothing is allocated per
// request. (load, id) is the order the linear scan it replaces picked by: the first of the
// least loaded in id order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace hs::sim {

// Item has a uint64_t load key and an int32_t position field per heap it can be in.
template <class Item, uint64_t Item::*Key, int32_t Item::*Pos>
class LoadHeap {
 public:
  explicit LoadHeap(std::vector<Item>* items) : items_(items) {}

  bool empty() const { return ids_.empty(); }
  uint32_t top() const { return ids_.front(); }
  bool contains(uint32_t id) const { return (*items_)[id].*Pos >= 0; }

  void insert(uint32_t id) {
    (*items_)[id].*Pos = static_cast<int32_t>(ids_.size());
    ids_.push_back(id);
    up(ids_.size() - 1);
  }
  // After the item's key changed.
  void update(uint32_t id) {
    size_t i = static_cast<size_t>((*items_)[id].*Pos);
    up(i);
    down(static_cast<size_t>((*items_)[id].*Pos));
  }
  void erase(uint32_t id) {
    size_t i = static_cast<size_t>((*items_)[id].*Pos);
    (*items_)[id].*Pos = -1;
    uint32_t last = ids_.back();
    ids_.pop_back();
    if (i == ids_.size()) return;
    ids_[i] = last;
    (*items_)[last].*Pos = static_cast<int32_t>(i);
    up(i);
    down(static_cast<size_t>((*items_)[last].*Pos));
  }

 private:
  bool less(uint32_t a, uint32_t b) const {
    uint64_t ka = (*items_)[a].*Key, kb = (*items_)[b].*Key;
    return ka < kb || (ka == kb && a < b);
  }
  void place(size_t i, uint32_t id) {
    ids_[i] = id;
    (*items_)[id].*Pos = static_cast<int32_t>(i);
  }
  void up(size_t i) {
    uint32_t id = ids_[i];
    while (i > 0) {
      size_t parent = (i - 1) / 2;
      if (!less(id, ids_[parent])) break;
      place(i, ids_[parent]);
      i = parent;
    }
    place(i, id);
  }
  void down(size_t i) {
    uint32_t id = ids_[i];
    for (;;) {
      size_t c = 2 * i + 1;
      if (c >= ids_.size()) break;
      if (c + 1 < ids_.size() && less(ids_[c + 1], ids_[c])) ++c;
      if (!less(ids_[c], id)) break;
      place(i, ids_[c]);
      i = c;
    }
    place(i, id);
  }

  std::vector<Item>* items_;
  std::vector<uint32_t> ids_;
};

}  // namespace hs::sim

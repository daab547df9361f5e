// The router's index picks what the linear scan it replaced picked: the first of the least
// loaded instances in id order, through inserts, load changes and removals.
#include "load_heap.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

namespace hs::sim {
namespace {

struct Item {
  uint64_t load = 0;
  int32_t pos = -1;
  bool in = false;
};
using Heap = LoadHeap<Item, &Item::load, &Item::pos>;

int32_t scan(const std::vector<Item>& items) {
  int32_t best = -1;
  for (size_t i = 0; i < items.size(); ++i)
    if (items[i].in && (best < 0 || items[i].load < items[static_cast<size_t>(best)].load))
      best = static_cast<int32_t>(i);
  return best;
}

TEST(LoadHeap, AgreesWithTheScanItReplacedOverRandomOperations) {
  std::vector<Item> items(200);
  Heap h(&items);
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<uint32_t> pick(0, 199), op(0, 9), load(0, 20);
  for (int step = 0; step < 200000; ++step) {
    uint32_t id = pick(rng);
    Item& it = items[id];
    uint32_t o = op(rng);
    if (!it.in && o < 6) {
      it.load = load(rng);
      it.in = true;
      h.insert(id);
    } else if (it.in && o < 8) {
      it.load = load(rng);  // small range: many ties, broken by id
      h.update(id);
    } else if (it.in) {
      it.in = false;
      h.erase(id);
    }
    int32_t want = scan(items);
    ASSERT_EQ(h.empty(), want < 0) << "step " << step;
    if (want >= 0) {
      ASSERT_EQ(h.top(), static_cast<uint32_t>(want)) << "step " << step;
    }
    ASSERT_EQ(h.contains(id), it.in);
  }
}

}  // namespace
}  // namespace hs::sim

// The persistent stack: every live parse stack is a chain of StackNodes linked by `parent`,
// hash-consed in one arena, so stacks that share a bottom share nodes and two equal stacks are
// the same node id (alternatives never copy stacks, and de-duplication is an id comparison).
//
// Nodes are only appended; Truncate(n) drops every node from id n on. The matcher records the
// arena size after each token, so rollback is a truncation (epoch freeing, no reference counts).
// The intern table tolerates stale entries left by truncation: a lookup always compares content.
#ifndef FORMGATE_STACK_ARENA_H_
#define FORMGATE_STACK_ARENA_H_

#include <cstdint>
#include <vector>

namespace formgate {

// parent values below zero are sentinels.
constexpr int32_t kNoParent = -1;       // bottom of the whole parse: returning here ends the input
constexpr int32_t kUnknownParent = -2;  // compile-time precheck: the context is not known

// Counter of a repeat frame in compile-time prechecks meaning "min reached, budget unlimited":
// iterating keeps it, leaving the repetition returns below the precomputed rule.
constexpr int32_t kSaturatedCounter = -1;
// Counter of a repeat frame in compile-time prechecks meaning "min not reached, budget
// unlimited": every completed iteration starts another; the repetition is never left.
constexpr int32_t kLoopingCounter = -3;

struct StackNode {
  int32_t state;    // automaton state (for a repeat frame: where to continue after the repeat)
  int32_t parent;   // node below, or a sentinel
  int32_t repeat;   // -1 for a plain return address, else the repeat id of a counter frame
  int32_t counter;  // completed iterations of a counter frame
  bool operator==(const StackNode& o) const {
    return state == o.state && parent == o.parent && repeat == o.repeat && counter == o.counter;
  }
};

class StackArena {
 public:
  StackArena() { table_.assign(1024, -1); }

  int32_t Intern(const StackNode& n) {
    size_t mask = table_.size() - 1;
    size_t h = Hash(n) & mask;
    for (;; h = (h + 1) & mask) {
      int32_t id = table_[h];
      if (id < 0) break;
      if (static_cast<size_t>(id) < nodes_.size() && nodes_[id] == n) return id;
    }
    int32_t id = static_cast<int32_t>(nodes_.size());
    nodes_.push_back(n);
    table_[h] = id;
    if (++occupied_ * 2 > table_.size()) Rebuild();
    return id;
  }

  const StackNode& operator[](int32_t id) const { return nodes_[id]; }
  size_t Size() const { return nodes_.size(); }
  void Truncate(size_t size) {
    if (size < nodes_.size()) nodes_.resize(size);
  }
  void Clear() {
    nodes_.clear();
    table_.assign(1024, -1);
    occupied_ = 0;
  }
  size_t MemoryBytes() const {
    return nodes_.capacity() * sizeof(StackNode) + table_.capacity() * sizeof(int32_t);
  }

 private:
  static size_t Hash(const StackNode& n) {
    uint64_t h = static_cast<uint32_t>(n.state) * 0x9E3779B97F4A7C15ull;
    h ^= (static_cast<uint64_t>(static_cast<uint32_t>(n.parent)) + 0x632BE59BD9B4E019ull) *
         0xC2B2AE3D27D4EB4Full;
    h ^= static_cast<uint64_t>(static_cast<uint32_t>(n.repeat) ^
                               (static_cast<uint32_t>(n.counter) << 7)) *
         0x165667B19E3779F9ull;
    return static_cast<size_t>(h ^ (h >> 29));
  }

  // Drops stale entries; grows when live nodes fill the table.
  void Rebuild() {
    size_t cap = table_.size();
    while (nodes_.size() * 4 > cap) cap *= 2;
    table_.assign(cap, -1);
    size_t mask = cap - 1;
    for (size_t id = 0; id < nodes_.size(); ++id) {
      size_t h = Hash(nodes_[id]) & mask;
      while (table_[h] >= 0) h = (h + 1) & mask;
      table_[h] = static_cast<int32_t>(id);
    }
    occupied_ = nodes_.size();
  }

  std::vector<StackNode> nodes_;
  std::vector<int32_t> table_;
  size_t occupied_ = 0;
};

}  // namespace formgate

#endif  // FORMGATE_STACK_ARENA_H_

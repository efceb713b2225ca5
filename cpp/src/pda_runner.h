// Runs the pushdown automaton over bytes on a set of persistent stacks.
//
// A Frontier is the set of live stacks after some input, closed under calls and returns: its
// `tops` are nodes whose state can consume a byte; `can_end` says the input so far is a complete
// sentence; `escaped` (compile-time prechecks only) says some stack returned below the rule being
// precomputed, whose caller is unknown. Close() is bounded by kMaxClosureWork so ambiguous or
// pathological grammars fail with LimitError instead of hanging.
#ifndef FORMGATE_PDA_RUNNER_H_
#define FORMGATE_PDA_RUNNER_H_

#include <cstdint>
#include <vector>

#include "automaton.h"
#include "stack_arena.h"

namespace formgate {

struct Frontier {
  std::vector<int32_t> tops;
  bool can_end = false;
  bool escaped = false;
  void Clear() {
    tops.clear();
    can_end = escaped = false;
  }
  bool Alive() const { return !tops.empty() || can_end; }
};

constexpr int64_t kMaxClosureWork = 1000000;

class PdaRunner {
 public:
  PdaRunner(const Automaton* a, StackArena* arena) : a_(a), arena_(arena) {}

  // Frontier for a stack holding just `state` above `parent` (a node id or a sentinel).
  void Start(int32_t state, int32_t parent, Frontier* out);
  // Every top advanced by `byte`, then closed. `out` must not alias `in`.
  void Step(const Frontier& in, uint8_t byte, Frontier* out);

 private:
  void Close(Frontier* out);

  const Automaton* a_;
  StackArena* arena_;
  std::vector<uint32_t> stamp_;
  uint32_t gen_ = 0;
  std::vector<int32_t> work_;
};

}  // namespace formgate

#endif  // FORMGATE_PDA_RUNNER_H_

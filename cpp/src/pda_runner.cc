#include "pda_runner.h"

#include <algorithm>
#include <string>

#include "formgate/error.h"

namespace formgate {

void PdaRunner::Start(int32_t state, int32_t parent, Frontier* out) {
  out->Clear();
  work_.clear();
  work_.push_back(arena_->Intern({state, parent, -1, 0}));
  Close(out);
}

void PdaRunner::Step(const Frontier& in, uint8_t byte, Frontier* out) {
  out->Clear();
  if (in.tops.size() == 1) {
    // The common case inside literals, names and strings: one stack moving to a state whose
    // closure is itself. A self-loop keeps the very same node.
    const StackNode n = (*arena_)[in.tops[0]];
    int32_t next = a_->Next(n.state, byte);
    if (next < 0) return;
    if (a_->IsSimple(next)) {
      out->tops.push_back(next == n.state ? in.tops[0] : arena_->Intern({next, n.parent, -1, 0}));
      return;
    }
    if (n.parent < 0 && !a_->HasCalls(next)) {
      // Not simple and without calls, so `next` is final; directly above a sentinel, returning
      // only sets a flag.
      if (a_->HasBytes(next)) {
        out->tops.push_back(next == n.state ? in.tops[0] : arena_->Intern({next, n.parent, -1, 0}));
      }
      out->can_end = n.parent == kNoParent;
      out->escaped = n.parent == kUnknownParent;
      return;
    }
  }
  work_.clear();
  for (int32_t top : in.tops) {
    const StackNode n = (*arena_)[top];
    int32_t next = a_->Next(n.state, byte);
    if (next >= 0) work_.push_back(arena_->Intern({next, n.parent, -1, 0}));
  }
  if (!work_.empty()) Close(out);
}

void PdaRunner::Close(Frontier* out) {
  if (++gen_ == 0) {
    std::fill(stamp_.begin(), stamp_.end(), 0);
    gen_ = 1;
  }
  int64_t budget = kMaxClosureWork;
  while (!work_.empty()) {
    int32_t id = work_.back();
    work_.pop_back();
    if (static_cast<size_t>(id) >= stamp_.size()) stamp_.resize(arena_->Size() * 2 + 64, 0);
    if (stamp_[id] == gen_) continue;
    stamp_[id] = gen_;
    if (--budget < 0) {
      throw LimitError("one step explored more than " + std::to_string(kMaxClosureWork) +
                       " stack configurations (grammar too ambiguous)");
    }
    const StackNode n = (*arena_)[id];
    if (a_->HasBytes(n.state)) out->tops.push_back(id);
    for (const CallEdge* c = a_->CallsBegin(n.state); c != a_->CallsEnd(n.state); ++c) {
      // A tail call needs no frame: the callee returns straight to the caller's caller, so a
      // right-recursive rule (`digits ::= [0-9] digits`, the JSON Schema converter's regex
      // DFAs) keeps a stack of constant depth and repeats the very same node. Not right above
      // a repeat frame: returning into one restarts the rule of the state that returns.
      bool tail = c->repeat < 0 && a_->IsTailReturn(c->ret) &&
                  (n.parent < 0 || (*arena_)[n.parent].repeat < 0);
      int32_t below = tail ? n.parent : arena_->Intern({c->ret, n.parent, c->repeat, 0});
      work_.push_back(arena_->Intern({a_->RuleStart(c->rule), below, -1, 0}));
    }
    if (!a_->IsFinal(n.state)) continue;
    // Return from the current rule into the node below.
    if (n.parent == kNoParent) {
      out->can_end = true;
      continue;
    }
    if (n.parent == kUnknownParent) {
      out->escaped = true;
      continue;
    }
    const StackNode f = (*arena_)[n.parent];
    if (f.repeat < 0) {
      work_.push_back(n.parent);
      continue;
    }
    int32_t body_start = a_->RuleStart(a_->StateRule(n.state));
    if (f.counter == kSaturatedCounter) {
      work_.push_back(arena_->Intern({body_start, n.parent, -1, 0}));
      if (f.state >= 0) {
        work_.push_back(arena_->Intern({f.state, f.parent, -1, 0}));
      } else {
        out->escaped = true;  // leaving the repetition to an unknown continuation
      }
      continue;
    }
    if (f.counter == kLoopingCounter) {
      work_.push_back(arena_->Intern({body_start, n.parent, -1, 0}));
      continue;
    }
    const RepeatInfo& rep = a_->Repeat(f.repeat);
    int32_t done = f.counter + 1;
    if (done < rep.max) {
      // `n` is the final state of the repeated rule; its start is the rule's first state.
      int32_t again = arena_->Intern({f.state, f.parent, f.repeat, done});
      work_.push_back(arena_->Intern({body_start, again, -1, 0}));
    }
    if (done >= rep.min) work_.push_back(arena_->Intern({f.state, f.parent, -1, 0}));
  }
}

}  // namespace formgate

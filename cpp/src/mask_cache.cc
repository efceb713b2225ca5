#include "mask_cache.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <functional>

#include "pda_runner.h"
#include "token_trie.h"

namespace formgate {

namespace {

enum TokenClass : uint8_t { kRejected = 0, kAccepted = 1, kUncertain = 2 };

}  // namespace

// Loop closures: a state that loops on many bytes (a string body, a name, whitespace) plus the
// few states that lead back to it within a UTF-8 character, as a small DFA. A stack whose top
// is in the closure survives every token the DFA survives, and the trie's survival bits answer
// that for a whole subtree at once (for string bodies: most of the vocabulary, multi-byte
// characters included).
//
// Repetition closures do the same for the body of a counted repetition whose counter is
// abstract (the saturated and looping prechecks): there, completing an iteration restarts the
// body above the very same frame, so from a final body state the body's first bytes follow.
// With a real counter the budget matters, so walks of real stacks use plain closures only.
struct LoopClosures {
  using Counted = MaskCache::Counted;
  static constexpr int32_t kMaxMembers = 8;  // survival bits are one byte per trie node
  struct Member {
    int32_t table = -1;  // index into tables, or -1
    int32_t index = 0;   // the state's bit in that table
    // Repetition closures whose table counts iterations exactly, or -1 (see CountedStart).
    int32_t counted = -1;
  };
  std::vector<Member> plain, repeat;  // by state
  std::vector<std::shared_ptr<const TokenTrie::Survival>> tables;
  std::vector<std::vector<int8_t>> nexts;  // by table: the closure DFA (see Table)
  // By counted closure: per member, the bytes that continue the body outside the closure
  // (members are capped), and the bytes that start an iteration.
  std::vector<std::array<ByteSet, kMaxMembers>> outside;
  std::vector<ByteSet> starts;

  LoopClosures(const Automaton& a, const TokenTrie& trie) : a_(a), slot_(a.NumStates(), -1) {
    plain.resize(a.NumStates());
    repeat.resize(a.NumStates());
    // Grammars have thousands of string bodies: closures are found class by class.
    std::vector<int32_t> class_size(a.NumByteClasses(), 0);
    for (int b = 0; b < 256; ++b) ++class_size[a.ByteClass(static_cast<uint8_t>(b))];
    std::unordered_map<std::string, int32_t> table_of;  // closure DFA bytes -> table
    auto add = [&](const std::vector<int32_t>& members, int32_t restart, std::vector<Member>* out) {
      std::vector<int8_t> next = Table(members, restart);
      int32_t counted = -1;
      if (restart >= 0 && ExactCount(members)) {
        counted = static_cast<int32_t>(starts.size());
        std::array<ByteSet, kMaxMembers> out_bytes{};
        std::vector<uint8_t> leaves(a.NumByteClasses());
        for (size_t q = 0; q < members.size(); ++q) {
          for (int32_t c = 0; c < a.NumByteClasses(); ++c) leaves[c] = NextResolved(members[q], c) >= 0;
          for (int b = 0; b < 256; ++b) {
            out_bytes[q][b] = leaves[a.ByteClass(static_cast<uint8_t>(b))] && next[q * 256 + b] < 0;
          }
        }
        ByteSet start = out_bytes[0];
        for (int b = 0; b < 256; ++b) start[b] = start[b] || next[b] >= 0;
        outside.push_back(out_bytes);
        starts.push_back(start);
      }
      auto [it, fresh] = table_of.emplace(std::string(next.begin(), next.end()),
                                          static_cast<int32_t>(tables.size()));
      if (fresh) {
        tables.push_back(trie.SurvivalTable(next));
        nexts.push_back(std::move(next));
      }
      for (size_t q = 0; q < members.size(); ++q) {
        if ((*out)[members[q]].table < 0) {
          (*out)[members[q]] = {it->second, static_cast<int32_t>(q), counted};
        }
      }
    };
    // Heads first, so that a head is always bit 0 of its own closure.
    for (int32_t h = 0; h < a.NumStates(); ++h) {
      if (!a.HasBytes(h)) continue;
      int loops = 0;
      for (int32_t c = 0; c < a.NumByteClasses(); ++c) {
        if (NextResolved(h, c) == h) loops += class_size[c];
      }
      if (loops < 8) continue;  // too narrow to pay for a pass over the trie
      add(PlainClosure(h), -1, &plain);
    }
    for (int32_t r = 0; r < a.NumRules(); ++r) {
      if (a.RuleRepeat(r) < 0 || !a.HasBytes(a.RuleStart(r))) continue;
      add(RepeatClosure(a.RuleStart(r)), a.RuleStart(r), &repeat);
    }
  }

  // Whether the stack `top` survives every token below trie node `node` (tokens have at most
  // `max_token_bytes` bytes).
  bool Survives(const Automaton& a, const StackArena& arena, int32_t top, int32_t node,
                int32_t max_token_bytes) const {
    const StackNode& n = arena[top];
    if (Bits(plain[n.state], node)) return true;
    const Member& r = repeat[n.state];
    if (n.parent < 0 || r.table < 0 || !Bits(r, node)) return false;
    const StackNode& f = arena[n.parent];
    if (f.repeat < 0 || f.repeat != a.RuleRepeat(a.StateRule(n.state))) return false;
    if (f.counter < 0) return true;  // a precheck's unlimited budget
    // Every iteration a token completes must be allowed to start another (the last one
    // need not, but counting it is only conservative).
    int32_t left = a.Repeat(f.repeat).max - 1 - f.counter;
    if (left > max_token_bytes) return true;  // each completed iteration took a byte
    const TokenTrie::Survival& t = *tables[r.table];
    // No marked transition: the closure's paths never complete an iteration.
    if (t.steps.empty()) return true;
    return t.steps[static_cast<size_t>(node) * t.states + r.index] <= left;
  }

  // Whether a token's fate under the real counter of `top` is decided by the iterations it
  // completes along the closure DFA: the body is prefix-free (an iteration ends exactly where
  // the closure enters a final state without bytes or calls, so the bytes fix the iterations)
  // and nothing that may follow the repetition starts like an iteration (so no path leaves early
  // and reads the rest outside: a JSON string's closing quote). Then a token the counter-free
  // precheck accepts is valid exactly when its iterations before it ends or leaves fit between
  // the bounds.
  bool CountedStart(const Automaton& a, const StackArena& arena, int32_t top,
                    Counted* out) const {
    const StackNode& n = arena[top];
    const Member& r = repeat[n.state];
    if (n.parent < 0 || r.table < 0 || r.counted < 0) return false;
    const StackNode& f = arena[n.parent];
    if (f.repeat < 0 || f.repeat != a.RuleRepeat(a.StateRule(n.state)) || f.counter < 0) {
      return false;
    }
    ByteSet after = a.First(f.state);
    if (a.Nullable(f.state)) after |= a.Follow(a.StateRule(f.state));
    if ((after & starts[r.counted]).any()) return false;
    const RepeatInfo& rep = a.Repeat(f.repeat);
    *out = {nexts[r.table].data(), tables[r.table].get(), outside[r.counted].data(), r.index,
            rep.max - 1 - f.counter, rep.min - f.counter};
    return true;
  }

 private:
  bool Bits(const Member& m, int32_t node) const {
    return m.table >= 0 && ((tables[m.table]->bits[node] >> m.index) & 1);
  }

  int32_t Slot(int32_t t) const { return t < 0 ? -1 : slot_[t]; }

  // Where a byte's target really leaves the stack top: a state that only tail-calls one rule
  // (`[0-9] digits`) puts that rule's start on top in place of itself.
  int32_t Resolve(int32_t t) const {
    for (int hops = 0; hops < 8 && t >= 0; ++hops) {
      if (a_.HasBytes(t) || a_.IsFinal(t) || a_.CallsEnd(t) - a_.CallsBegin(t) != 1) return t;
      const CallEdge& c = *a_.CallsBegin(t);
      if (c.repeat >= 0 || !a_.IsTailReturn(c.ret)) return t;
      t = a_.RuleStart(c.rule);
    }
    return t;
  }
  int32_t NextResolved(int32_t s, int32_t byte_class) const {
    return Resolve(a_.NextByClass(s, byte_class));
  }

  // `h` and the states its bytes reach within three steps that lead back to `h`.
  std::vector<int32_t> PlainClosure(int32_t h) {
    const int32_t k = a_.NumByteClasses();
    std::vector<int32_t> reach{h};
    slot_[h] = 0;
    bool wide = false;
    for (size_t i = 0, depth_end = 1, depth = 0; i < reach.size() && depth < 3 && !wide; ++i) {
      for (int32_t c = 0; c < k; ++c) {
        int32_t t = NextResolved(reach[i], c);
        if (t < 0 || slot_[t] >= 0) continue;
        slot_[t] = static_cast<int32_t>(reach.size());
        reach.push_back(t);
        if (reach.size() > 64) {  // a wide fan-out is not a character's bytes
          wide = true;
          break;
        }
      }
      if (i + 1 == depth_end) ++depth, depth_end = reach.size();
    }
    std::vector<uint8_t> back(reach.size(), 0);
    back[0] = 1;
    for (bool changed = !wide; changed;) {
      changed = false;
      for (size_t i = 1; i < reach.size(); ++i) {
        for (int32_t c = 0; c < k && !back[i]; ++c) {
          int32_t j = Slot(NextResolved(reach[i], c));
          if (j >= 0 && back[j]) back[i] = changed = true;
        }
      }
    }
    std::vector<int32_t> members;
    for (size_t i = 0; i < reach.size() && members.size() < kMaxMembers; ++i) {
      if (back[i]) members.push_back(reach[i]);
    }
    for (int32_t t : reach) slot_[t] = -1;
    return members;
  }

  // The body's states reachable from its start, where a final state without bytes of its own is
  // the start again (the next iteration), so it needs no bit of its own.
  std::vector<int32_t> RepeatClosure(int32_t start) {
    const int32_t k = a_.NumByteClasses();
    std::vector<int32_t> members{start};
    slot_[start] = 0;
    for (size_t i = 0; i < members.size() && members.size() < kMaxMembers; ++i) {
      for (int32_t c = 0; c < k && members.size() < kMaxMembers; ++c) {
        int32_t t = NextResolved(members[i], c);
        if (t < 0 || !a_.HasBytes(t) || slot_[t] >= 0) continue;
        slot_[t] = static_cast<int32_t>(members.size());
        members.push_back(t);
      }
    }
    for (int32_t t : members) slot_[t] = -1;
    return members;
  }

  // Whether a repetition closure's marked transitions count iterations exactly: no member is
  // final or calls a rule, and every final state a byte reaches has no bytes or calls of its
  // own (the body is prefix-free, so the bytes fix where iterations end). Bytes that continue
  // the body outside the closure (members are capped) are recorded apart, as undecided.
  bool ExactCount(const std::vector<int32_t>& members) const {
    for (int32_t m : members) {
      if (a_.IsFinal(m) || a_.CallsBegin(m) != a_.CallsEnd(m)) return false;
      for (int32_t c = 0; c < a_.NumByteClasses(); ++c) {
        int32_t t = NextResolved(m, c);
        if (t >= 0 && a_.IsFinal(t) && (a_.HasBytes(t) || a_.CallsBegin(t) != a_.CallsEnd(t))) {
          return false;
        }
      }
    }
    return true;
  }

  // The closure as a DFA over member indices. With `restart` >= 0 (a repetition body), a final
  // state continues with the bytes of `restart` that it has no edge for itself; keeping only one
  // of two possible edges is sound, since one surviving path accepts the token. Transitions into
  // a final state complete an iteration and are marked (TokenTrie::SurvivalTable).
  std::vector<int8_t> Table(const std::vector<int32_t>& members, int32_t restart) {
    for (size_t q = 0; q < members.size(); ++q) slot_[members[q]] = static_cast<int32_t>(q);
    auto index = [&](int32_t t) -> int8_t {
      if (t < 0) return -1;
      if (restart >= 0 && !a_.HasBytes(t) && a_.IsFinal(t)) return 0;
      return static_cast<int8_t>(slot_[t]);
    };
    // Per byte class, then spread over the bytes: a closure is built for every looping state
    // of the grammar at its first mask.
    const int32_t k = a_.NumByteClasses();
    std::vector<int8_t> by_class(k);
    std::vector<int8_t> next(members.size() * 256, -1);
    for (size_t q = 0; q < members.size(); ++q) {
      bool final_state = restart >= 0 && a_.IsFinal(members[q]);
      for (int32_t c = 0; c < k; ++c) {
        int32_t t = NextResolved(members[q], c);
        if (t < 0 && final_state) t = NextResolved(restart, c);
        int8_t x = index(t);
        by_class[c] = x >= 0 && restart >= 0 && a_.IsFinal(t) ? static_cast<int8_t>(8 + x) : x;
      }
      for (int b = 0; b < 256; ++b) next[q * 256 + b] = by_class[a_.ByteClass(static_cast<uint8_t>(b))];
    }
    for (int32_t t : members) slot_[t] = -1;
    return next;
  }

  const Automaton& a_;
  std::vector<int32_t> slot_;  // per state: index in the closure being built, or -1
};

// What a precheck from `state` depends on: the states reachable inside its rule (numbered in
// discovery order, so copies of one piece of grammar inlined into different rules compare
// equal), their byte edges, calls and finality, and the bytes that may follow the rule. Empty
// when the state is not worth comparing (repetition bodies, large reachable parts).
static std::vector<int32_t> PrecheckKey(const Automaton& a, int32_t state,
                                        std::vector<int32_t>* index) {
  constexpr size_t kMaxReachable = 64;
  int32_t rule = a.StateRule(state);
  if (a.RuleRepeat(rule) >= 0) return {};
  std::vector<int32_t> order{state}, key;
  (*index)[state] = 0;
  // `index` maps states to their discovery number and is all -1 again when this returns.
  auto index_of = [&](int32_t t) -> int32_t {
    if ((*index)[t] < 0) {
      (*index)[t] = static_cast<int32_t>(order.size());
      order.push_back(t);
    }
    return (*index)[t];
  };
  bool too_big = false;
  for (size_t i = 0; i < order.size() && !too_big; ++i) {
    if (order.size() > kMaxReachable) {
      too_big = true;
      break;
    }
    int32_t s = order[i];
    key.push_back(a.IsFinal(s) ? -2 : -3);
    // Runs of byte classes with the same target, as (first class, target).
    int32_t prev = -2;
    for (int32_t c = 0; c < a.NumByteClasses(); ++c) {
      int32_t t = a.NextByClass(s, c);
      int32_t idx = t < 0 ? -1 : index_of(t);
      if (idx != prev) key.insert(key.end(), {c, idx});
      prev = idx;
    }
    for (const CallEdge* e = a.CallsBegin(s); e != a.CallsEnd(s); ++e) {
      if (e->repeat >= 0) {
        too_big = true;
        break;
      }
      key.insert(key.end(), {-4, e->rule, index_of(e->ret)});
    }
  }
  for (int32_t t : order) (*index)[t] = -1;
  if (too_big) return {};
  const ByteSet& follow = a.Follow(rule);
  for (int w = 0; w < 256; w += 32) {
    uint32_t bits = 0;
    for (int b = 0; b < 32; ++b) bits |= static_cast<uint32_t>(follow[w + b]) << b;
    key.push_back(static_cast<int32_t>(bits));
  }
  return key;
}

// Classifies every text token for a stack [state] above an unknown caller.
class StatePrecheck {
 public:
  // canon[s]: an id shared by states whose prechecks are provably equal (see PrecheckKey), or -1.
  StatePrecheck(const Automaton& a, const TokenTrie& trie, const LoopClosures& loops,
                std::function<int32_t(int32_t)> canon)
      : a_(a), trie_(trie), loops_(loops), canon_(std::move(canon)), runner_(&a, &arena_) {
    int32_t depth = trie.MaxDepth() + 1;
    levels_.resize(depth);
    pending_.resize(depth);
    marks_.resize(depth);
  }

  // Trie-position ranges [begin, end), ascending and disjoint, from the last Run.
  using Ranges = std::vector<std::pair<int32_t, int32_t>>;
  const Ranges& Accepted() const { return ranges_[kAccepted]; }
  const Ranges& Uncertain() const { return ranges_[kUncertain]; }

  // `mode`: what lies below the state (see PrecheckMode).
  void Run(int32_t state, PrecheckMode mode) {
    ranges_[kAccepted].clear();
    ranges_[kUncertain].clear();
    arena_.Clear();
    // Returning below the bottom rule is what makes a token uncertain; filter by what may
    // follow that rule. For a saturated precheck with a known continuation, the bottom rule is
    // the continuation's (the repetition itself never returns below).
    int32_t bottom_rule = a_.StateRule(state);
    int32_t parent = kUnknownParent;
    if (mode == kSaturated) {
      int32_t repeat = a_.RuleRepeat(a_.StateRule(state));
      if (a_.RepeatReturn(repeat) >= 0) bottom_rule = a_.StateRule(a_.RepeatReturn(repeat));
      // With a single continuation, leaving the repetition continues there (above the unknown
      // caller); otherwise leaving counts as returning below (state -1).
      parent = arena_.Intern({a_.RepeatReturn(repeat), kUnknownParent, repeat, kSaturatedCounter});
    } else if (mode == kLooping) {
      // The repetition is never left, so nothing returns below and nothing is uncertain.
      int32_t repeat = a_.RuleRepeat(a_.StateRule(state));
      parent = arena_.Intern({a_.RepeatReturn(repeat), kUnknownParent, repeat, kLoopingCounter});
    }
    const ByteSet& follow = a_.Follow(bottom_rule);
    runner_.Start(state, parent, &levels_[0]);
    // Returning below the rule before any byte needs no run-time check: the matcher's frontier
    // is closed under returns, so the caller's continuation is itself a live state whose own
    // precomputed sets cover those tokens.
    levels_[0].escaped = false;
    pending_[0] = false;
    marks_[0] = arena_.Size();
    int32_t i = 1;
    const int32_t end = trie_.NumNodes();
    // Subtrees below a first byte are memoised when the walk is then in one known state of the
    // bottom rule: every copy of a string body that a token can enter after one byte (one per
    // property-name exclusion rule, say) then shares one walk of the trie instead of ~80,000
    // node visits each.
    int32_t recording_end = -1;
    uint64_t recording_key = 0;
    size_t recording_from[3] = {0, 0, 0};
    auto finish_recording = [&]() {
      Memo& m = memo_[recording_key];
      for (TokenClass c : {kAccepted, kUncertain}) {
        m.ranges[c].assign(ranges_[c].begin() + recording_from[c], ranges_[c].end());
      }
      recording_end = -1;
    };
    while (i < end) {
      if (recording_end >= 0 && i >= recording_end) finish_recording();
      const TrieNode& node = trie_.Node(i);
      int32_t d = node.depth;
      const Frontier& up = levels_[d - 1];
      // Returning below the rule with this byte next is only possible if it can follow the rule.
      bool pending = pending_[d - 1] || (up.escaped && follow[node.byte]);
      if (up.tops.empty()) {
        Fill(node.tok_begin, trie_.Node(node.subtree_end).tok_begin,
             pending ? kUncertain : kRejected);
        i = node.subtree_end;
        continue;
      }
      if (InLoop(up, i)) {
        Fill(node.tok_begin, trie_.Node(node.subtree_end).tok_begin, kAccepted);
        i = node.subtree_end;
        continue;
      }
      arena_.Truncate(marks_[d - 1]);
      Frontier& here = levels_[d];
      runner_.Step(up, node.byte, &here);
      pending_[d] = pending;
      marks_[d] = arena_.Size();
      // (A tail call can put another rule's state right above the unknown caller; the memo is
      // only for states of the bottom rule, whose FOLLOW set the walk filters with.)
      if (d == 1 && !pending && mode == kPlain && here.tops.size() == 1 &&
          arena_[here.tops[0]].parent == kUnknownParent && a_.HasBytes(arena_[here.tops[0]].state) &&
          a_.StateRule(arena_[here.tops[0]].state) == a_.StateRule(state) &&
          canon_(arena_[here.tops[0]].state) >= 0) {
        uint64_t key = (static_cast<uint64_t>(canon_(arena_[here.tops[0]].state)) << 33) |
                       (static_cast<uint64_t>(i) << 1) | (here.escaped ? 1u : 0u);
        auto hit = memo_.find(key);
        if (hit != memo_.end()) {
          for (TokenClass c : {kAccepted, kUncertain}) {
            for (auto [b, e] : hit->second.ranges[c]) Fill(b, e, c);
          }
          i = node.subtree_end;
          continue;
        }
        recording_key = key;
        recording_end = node.subtree_end;
        for (TokenClass c : {kAccepted, kUncertain}) {
          recording_from[c] = ranges_[c].size();
          no_merge_[c] = true;
        }
      }
      bool accepted = !here.tops.empty() || here.escaped;
      Fill(node.tok_begin, node.tok_end, accepted ? kAccepted : pending ? kUncertain : kRejected);
      if (here.tops.empty() && !here.escaped) {
        Fill(node.tok_end, trie_.Node(node.subtree_end).tok_begin,
             pending ? kUncertain : kRejected);
        i = node.subtree_end;
      } else {
        ++i;
      }
    }
    if (recording_end >= 0) finish_recording();
  }

 private:
  bool InLoop(const Frontier& f, int32_t node) const {
    for (int32_t top : f.tops) {
      if (loops_.Survives(a_, arena_, top, node, trie_.MaxDepth())) return true;
    }
    return false;
  }

  // The walk is in trie preorder, so ranges arrive in ascending position order.
  void Fill(int32_t begin, int32_t end, TokenClass c) {
    if (c == kRejected || begin == end) return;
    Ranges& r = ranges_[c];
    if (!r.empty() && r.back().second == begin && !no_merge_[c]) {
      r.back().second = end;
    } else {
      r.push_back({begin, end});
    }
    no_merge_[c] = false;
  }

  const Automaton& a_;
  const TokenTrie& trie_;
  const LoopClosures& loops_;
  std::function<int32_t(int32_t)> canon_;
  StackArena arena_;
  PdaRunner runner_;
  std::vector<Frontier> levels_;
  std::vector<uint8_t> pending_;
  std::vector<size_t> marks_;
  Ranges ranges_[3];
  bool no_merge_[3] = {false, false, false};  // the next range starts a memoised slice
  struct Memo {
    Ranges ranges[3];
  };
  std::unordered_map<uint64_t, Memo> memo_;
};

MaskCache::MaskCache(const Automaton& a, const TokenizerInfo& tok) : a_(&a), tok_(&tok) {
  int32_t n_words = (tok.VocabSize() + 31) / 32;
  // Copied from the vocabulary's bitset: setting 128k bits one by one cost 0.1 ms per compile.
  text_bits_ = tok.Trie().IdBits();
  text_bits_.resize(n_words, 0);
  int32_t n = a.NumStates();
  for (auto& slots : slots_) {
    slots.reset(new std::atomic<const StateMasks*>[n]);
    for (int32_t s = 0; s < n; ++s) slots[s].store(nullptr, std::memory_order_relaxed);
  }
  canon_.assign(n, -2);
}

MaskCache::~MaskCache() = default;

int32_t MaskCache::CanonLocked(int32_t s) const {
  if (canon_[s] == -2) {
    if (key_index_.empty()) key_index_.assign(a_->NumStates(), -1);
    std::vector<int32_t> key = PrecheckKey(*a_, s, &key_index_);
    if (key.empty()) {
      canon_[s] = -1;
    } else {
      auto it = canon_ids_.emplace(std::move(key), static_cast<int32_t>(by_canon_.size())).first;
      if (it->second == static_cast<int32_t>(by_canon_.size())) by_canon_.push_back(nullptr);
      canon_[s] = it->second;
    }
  }
  return canon_[s];
}

const StateMasks* MaskCache::Compute(int32_t s, PrecheckMode mode) const {
  std::lock_guard<std::mutex> lock(mu_);
  return ComputeLocked(s, mode);
}

const StateMasks* MaskCache::ComputeLocked(int32_t s, PrecheckMode mode) const {
  std::atomic<const StateMasks*>& slot = slots_[mode][s];
  if (const StateMasks* done = slot.load(std::memory_order_acquire)) return done;
  int32_t canon = mode != kPlain ? -1 : CanonLocked(s);
  if (canon >= 0 && by_canon_[canon]) {
    slot.store(by_canon_[canon], std::memory_order_release);
    return by_canon_[canon];
  }
  const TokenTrie& trie = tok_->Trie();
  if (!precheck_) {
    precheck_ = std::make_unique<StatePrecheck>(*a_, trie, LoopsLocked(),
                                                [this](int32_t x) { return CanonLocked(x); });
  }
  precheck_->Run(s, mode);
  StateMasks& m = store_.emplace_back();
  for (auto [b, e] : precheck_->Uncertain()) {
    for (int32_t q = b; q < e; ++q) m.uncertain.push_back(q);
  }
  // Materialise the accepted ids from whichever side is smaller: the accepted ranges, or the
  // gaps between them (string-like states accept nearly every token).
  const int32_t num_tokens = trie.NumTokens();
  int32_t members = 0;
  for (auto [b, e] : precheck_->Accepted()) members += e - b;
  std::vector<uint32_t> bits;
  if (members <= num_tokens - members) {
    bits.assign(text_bits_.size(), 0);
    for (auto [b, e] : precheck_->Accepted()) {
      for (int32_t q = b; q < e; ++q) SetBit(bits.data(), trie.TokenAt(q));
    }
  } else {
    bits = text_bits_;
    int32_t q = 0;
    auto clear_to = [&](int32_t end) {
      for (; q < end; ++q) {
        int32_t id = trie.TokenAt(q);
        bits[id >> 5] &= ~(1u << (id & 31));
      }
    };
    for (auto [b, e] : precheck_->Accepted()) {
      clear_to(b);
      q = e;
    }
    clear_to(num_tokens);
  }
  m.accepted = TokenSet::FromBits(std::move(bits), members, text_bits_.data(), num_tokens);
  m.uncertain.shrink_to_fit();
  bytes_ += sizeof(StateMasks) + m.accepted.MemoryBytes() + m.uncertain.capacity() * 4;
  if (canon >= 0) by_canon_[canon] = &m;
  slot.store(&m, std::memory_order_release);
  return &m;
}

const LoopClosures& MaskCache::LoopsLocked() const {
  if (!loops_) {
    loops_ = std::make_unique<LoopClosures>(*a_, tok_->Trie());
    loops_ready_.store(loops_.get(), std::memory_order_release);
  }
  return *loops_;
}

const LoopClosures& MaskCache::Loops() const {
  if (const LoopClosures* loops = loops_ready_.load(std::memory_order_acquire)) return *loops;
  std::lock_guard<std::mutex> lock(mu_);
  return LoopsLocked();
}

bool MaskCache::SubtreeSurvives(const StackArena& arena, int32_t top, int32_t node) const {
  return Loops().Survives(*a_, arena, top, node, tok_->Trie().MaxDepth());
}

bool MaskCache::CountedStart(const StackArena& arena, int32_t top, Counted* out) const {
  return Loops().CountedStart(*a_, arena, top, out);
}

void MaskCache::Precompute() const {
  // The walks share one memo, so they run one at a time.
  std::lock_guard<std::mutex> lock(mu_);
  for (int32_t s = 0; s < a_->NumStates(); ++s) {
    if (!a_->HasBytes(s)) continue;
    ComputeLocked(s, kPlain);
    if (HasSaturated(s)) {
      ComputeLocked(s, kSaturated);
      ComputeLocked(s, kLooping);
    }
  }
}

size_t MaskCache::MemoryBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return text_bits_.size() * 4 + static_cast<size_t>(a_->NumStates()) * 20 + bytes_;
}

int32_t MaskCache::NumComputed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int32_t>(store_.size());
}

}  // namespace formgate

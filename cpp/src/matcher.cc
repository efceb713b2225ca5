// GrammarMatcher: a Frontier of persistent stacks, a history of frontiers for rollback, and the
// run-time half of the mask: union of precomputed accepted sets, plus the uncertain tokens
// checked against the real stacks by a sorted walk that reuses the common prefix of neighbours.
#include "formgate/matcher.h"

#include <algorithm>
#include <stdexcept>
#include <tuple>

#include "automaton.h"
#include "mask_cache.h"
#include "pda_runner.h"
#include "token_trie.h"

namespace formgate {

namespace {

constexpr size_t kMaxJumpForwardBytes = 4096;
// More states without a precheck than this in one frontier: walk the trie directly instead.
// Lower values made MaskBench's p99 worse (the walk is repeated at every such step, while
// prechecks are paid once); 64 only catches the frontiers that cost hundreds of ms.
constexpr int32_t kMaxPrechecksPerMask = 64;
// Below a repetition's minimum, the looping precheck is used while at least this many bytes
// remain before the minimum can be reached (every longer token is re-checked).
constexpr int32_t kMinLoopingBudget = 8;
// More tokens to re-check against a counter than this (a short budget left in a long string):
// one walk of the trie, where the loop closures take whole subtrees that fit the budget, is
// cheaper than stepping each token (11,000 of them took 430 ms on Snowplow sp_343).
constexpr size_t kMaxLongTokenChecks = 256;
// More uncertain tokens than this (a state whose rule ends after one character, so every longer
// token returns below it): check them by one pruned walk of the trie rather than one by one.
constexpr size_t kMaxUncertainChecks = 4096;

}  // namespace

class MatcherState {
 public:
  MatcherState(std::shared_ptr<const CompiledGrammar> g, int32_t max_rollback)
      : grammar(std::move(g)),
        a(&grammar->GetAutomaton()),
        masks(&grammar->Masks()),
        tok(grammar->Tokenizer().get()),
        max_rollback(max_rollback),
        runner(a, &arena) {
    levels.resize(tok->Trie().MaxDepth() + 2);
    marks.resize(levels.size());
    counted_q.resize(levels.size());
    counted_k.resize(levels.size());
    Reset();
  }

  MatcherState(const MatcherState& o)
      : grammar(o.grammar),
        a(o.a),
        masks(o.masks),
        tok(o.tok),
        max_rollback(o.max_rollback),
        arena(o.arena),
        runner(a, &arena),
        cur(o.cur),
        terminated(o.terminated),
        history(o.history),
        levels(o.levels.size()),
        marks(o.marks.size()),
        counted_q(o.counted_q.size()),
        counted_k(o.counted_k.size()) {}

  void Reset() {
    ++epoch;
    arena.Clear();
    runner.Start(a->RuleStart(a->Root()), kNoParent, &cur);
    terminated = false;
    history.clear();
  }

  void CheckUsable() const {
    if (terminated) {
      throw std::invalid_argument(
          "the matcher has terminated (it accepted a stop token); call reset() or rollback()");
    }
  }

  // Records the current state; `arena_size` is where rollback to it truncates the arena.
  void PushHistory(size_t arena_size) {
    history.push_back({arena_size, cur.tops, cur.can_end, terminated});
    if (max_rollback >= 0 && history.size() > static_cast<size_t>(max_rollback)) {
      history.erase(history.begin());
    }
  }

  bool AcceptBytes(const std::string& bytes) {
    size_t mark = arena.Size();
    Frontier f = cur, next;
    try {
      for (unsigned char b : bytes) {
        runner.Step(f, b, &next);
        std::swap(f, next);
        if (!f.Alive()) {
          arena.Truncate(mark);
          return false;
        }
      }
    } catch (...) {
      arena.Truncate(mark);
      throw;
    }
    PushHistory(mark);
    cur = std::move(f);
    return true;
  }

  void Fill(uint32_t* words) const {
    CheckUsable();
    int32_t n_words = (tok->VocabSize() + 31) / 32;
    // Inside strings and names a step often leaves the frontier as it was (a self-loop keeps
    // the same interned node), and an equal frontier has an equal mask. Node ids are only
    // reused after rollback or reset, which bump `epoch`.
    if (cached_epoch == epoch && cached_can_end == cur.can_end && cached_tops == cur.tops) {
      std::copy(cached_mask.begin(), cached_mask.end(), words);
      return;
    }
    std::fill(words, words + n_words, 0u);
    // One entry per distinct (state, precheck mode, remaining budget) among the tops. A top
    // whose counter is applied by counting iterations (CountedStart) takes the counter-free
    // precheck; its budget is then c.left, and equal keys have equal `c`.
    struct Use {
      int32_t state;
      PrecheckMode mode;
      int32_t remaining;
      bool counted;
      MaskCache::Counted c;
      auto Key() const { return std::make_tuple(state, mode, remaining, counted); }
    };
    std::vector<Use> uses;
    for (int32_t top : cur.tops) {
      Use u{};
      std::tie(u.state, u.mode, u.remaining) = Classify(top);
      if (masks->HasSaturated(u.state) && masks->CountedStart(arena, top, &u.c)) {
        u = {u.state, kSaturated, u.c.left, true, u.c};
      }
      uses.push_back(u);
    }
    std::sort(uses.begin(), uses.end(),
              [](const Use& x, const Use& y) { return x.Key() < y.Key(); });
    uses.erase(std::unique(uses.begin(), uses.end(),
                           [](const Use& x, const Use& y) { return x.Key() == y.Key(); }),
               uses.end());
    // A frontier of many states never seen before (after a value in an object with a long
    // list of optional properties, say) would pay one precheck walk per state; one walk of the
    // trie with the real stacks is exact and costs about as much as a single precheck.
    int32_t missing = 0;
    for (const Use& u : uses) missing += !masks->IsComputed(u.state, u.mode);
    if (missing > kMaxPrechecksPerMask) {
      WalkTrie(words);
      FinishMask(words, n_words);
      return;
    }
    std::vector<const std::vector<int32_t>*> lists;
    std::vector<int32_t> long_tokens;  // accepted by a counter set but longer than the budget
    const TokenTrie& trie = tok->Trie();
    const auto& by_length = trie.ByLength();
    for (const Use& u : uses) {
      const auto& [state, mode, remaining, counted, c] = u;
      const StateMasks* m = masks->For(state, mode);
      if (!m->uncertain.empty()) lists.push_back(&m->uncertain);
      if (counted && (c.need > 0 || (!by_length.empty() && by_length.front().first > c.left))) {
        scratch.assign(n_words, 0u);
        m->accepted.OrInto(scratch.data(), masks->TextTokenBits().data(), n_words);
        DropOutOfBounds(c, scratch.data(), &long_tokens);
        for (int32_t w = 0; w < n_words; ++w) words[w] |= scratch[w];
        continue;
      }
      if (mode == kPlain || by_length.empty() || by_length.front().first <= remaining) {
        m->accepted.OrInto(words, masks->TextTokenBits().data(), n_words);
        continue;
      }
      scratch.assign(n_words, 0u);
      m->accepted.OrInto(scratch.data(), masks->TextTokenBits().data(), n_words);
      // Longer tokens are decided against the real stack. A saturated set still covers what
      // it rejects (leaving is modelled), but a looping set rejects every token that needs to
      // leave the repetition, so all long tokens are re-checked then.
      for (const auto& [len, q] : by_length) {
        if (len <= remaining) break;
        int32_t id = trie.TokenAt(q);
        if (GetBit(scratch.data(), id)) {
          scratch[id >> 5] &= ~(1u << (id & 31));
          long_tokens.push_back(q);
        } else if (mode == kLooping) {
          long_tokens.push_back(q);
        }
      }
      for (int32_t w = 0; w < n_words; ++w) words[w] |= scratch[w];
    }
    std::sort(long_tokens.begin(), long_tokens.end());
    long_tokens.erase(std::unique(long_tokens.begin(), long_tokens.end()), long_tokens.end());
    if (long_tokens.size() > kMaxLongTokenChecks) {
      std::fill(words, words + n_words, 0u);
      WalkTrie(words);
      FinishMask(words, n_words);
      return;
    }
    if (!long_tokens.empty()) lists.push_back(&long_tokens);
    // Merge the sorted uncertain lists, keeping only tokens no accepted set already allows.
    std::vector<int32_t> candidates;
    std::vector<size_t> pos(lists.size(), 0);
    for (;;) {
      int32_t best = -1;
      for (size_t k = 0; k < lists.size(); ++k) {
        if (pos[k] < lists[k]->size() && (best < 0 || (*lists[k])[pos[k]] < best)) {
          best = (*lists[k])[pos[k]];
        }
      }
      if (best < 0) break;
      for (size_t k = 0; k < lists.size(); ++k) {
        if (pos[k] < lists[k]->size() && (*lists[k])[pos[k]] == best) ++pos[k];
      }
      if (!GetBit(words, trie.TokenAt(best))) candidates.push_back(best);
    }
    if (candidates.size() > kMaxUncertainChecks) {
      std::fill(words, words + n_words, 0u);
      WalkTrie(words);
    } else if (!candidates.empty()) {
      CheckUncertain(candidates, words);
    }
    FinishMask(words, n_words);
  }

  void FinishMask(uint32_t* words, int32_t n_words) const {
    if (cur.can_end) {
      for (int32_t id : tok->StopTokenIds()) SetBit(words, id);
    }
    cached_mask.assign(words, words + n_words);
    cached_tops = cur.tops;
    cached_can_end = cur.can_end;
    cached_epoch = epoch;
  }

  // Every text token checked against the real frontier in one preorder walk of the trie; a
  // dead prefix skips its subtree.
  void WalkTrie(uint32_t* words) const {
    const TokenTrie& trie = tok->Trie();
    size_t base = arena.Size();
    levels[0] = cur;
    marks[0] = base;
    try {
      int32_t i = 1;
      const int32_t end = trie.NumNodes();
      while (i < end) {
        const TrieNode& node = trie.Node(i);
        int32_t d = node.depth;
        bool looped = false;
        for (int32_t top : levels[d - 1].tops) {
          if (masks->SubtreeSurvives(arena, top, i)) {
            looped = true;
            break;
          }
        }
        if (looped) {  // that stack survives every token below: accept the subtree whole
          int32_t stop = trie.Node(node.subtree_end).tok_begin;
          for (int32_t q = node.tok_begin; q < stop; ++q) SetBit(words, trie.TokenAt(q));
          i = node.subtree_end;
          continue;
        }
        arena.Truncate(marks[d - 1]);
        Frontier& here = levels[d];
        runner.Step(levels[d - 1], node.byte, &here);
        marks[d] = arena.Size();
        if (here.Alive()) {
          for (int32_t q = node.tok_begin; q < node.tok_end; ++q) SetBit(words, trie.TokenAt(q));
        }
        i = here.tops.empty() ? node.subtree_end : i + 1;
      }
    } catch (...) {
      arena.Truncate(base);
      throw;
    }
    arena.Truncate(base);
  }

  // Clears from `bits` (a saturated precheck's accepted set, exact but for the counter) every
  // token that completes more iterations than the counter allows before it ends or leaves the
  // repetition, or leaves it before the minimum, following the closure DFA along the trie: no
  // stack is stepped. Accepted tokens whose bytes go where the closure cannot follow are moved
  // to `undecided` (trie positions) for the exact check.
  void DropOutOfBounds(const MaskCache::Counted& c, uint32_t* bits,
                       std::vector<int32_t>* undecided) const {
    const TokenTrie& trie = tok->Trie();
    const TokenTrie::Survival& t = *c.table;
    auto drop = [&](int32_t begin, int32_t end, bool recheck) {
      for (int32_t p = begin; p < end; ++p) {
        int32_t id = trie.TokenAt(p);
        if (recheck && GetBit(bits, id)) undecided->push_back(p);
        bits[id >> 5] &= ~(1u << (id & 31));
      }
    };
    counted_q[0] = c.q;
    counted_k[0] = 0;
    const int32_t end = trie.NumNodes();
    for (int32_t i = 1; i < end;) {
      const TrieNode& node = trie.Node(i);
      const int32_t d = node.depth;
      const int32_t q = counted_q[d - 1];
      int32_t k = counted_k[d - 1];
      const int32_t subtree_stop = trie.Node(node.subtree_end).tok_begin;
      if (((t.bits[i] >> q) & 1) &&
          (t.steps.empty() || k + t.steps[static_cast<size_t>(i) * t.states + q] <= c.left)) {
        i = node.subtree_end;  // every token below stays inside and fits
        continue;
      }
      const int32_t to = c.next[q * 256 + node.byte];
      if (to < 0) {
        if (c.outside[q][node.byte]) {
          drop(node.tok_begin, subtree_stop, true);
        } else if (k > c.left + 1 || k < c.need) {
          // they leave the repetition here (or are rejected anyway)
          drop(node.tok_begin, subtree_stop, false);
        }
        i = node.subtree_end;
        continue;
      }
      const bool completes = to >= 8;
      k += completes;
      if (k > c.left + 1) {
        drop(node.tok_begin, subtree_stop, false);
        i = node.subtree_end;
        continue;
      }
      if (!completes && k > c.left) drop(node.tok_begin, node.tok_end, false);
      counted_q[d] = completes ? to - 8 : to;
      counted_k[d] = k;
      ++i;
    }
  }

  // A top right above its repetition's counter frame may use a counter precheck: saturated
  // once the minimum is reached (budget: iterations left), looping before (budget: bytes that
  // cannot yet reach the minimum).
  std::tuple<int32_t, PrecheckMode, int32_t> Classify(int32_t top) const {
    const StackNode& n = arena[top];
    if (n.parent >= 0 && masks->HasSaturated(n.state)) {
      const StackNode& f = arena[n.parent];
      if (f.repeat >= 0 && f.repeat == a->RuleRepeat(a->StateRule(n.state))) {
        const RepeatInfo& rep = a->Repeat(f.repeat);
        // The iteration in progress completes as iteration counter + 1, so leaving is allowed
        // from then on. Each further iteration takes a byte and may start only while fewer
        // than max are done; the iteration in progress may complete without a byte: a token
        // of up to max - counter - 1 bytes never runs out of budget.
        if (f.counter + 1 >= rep.min) return {n.state, kSaturated, rep.max - f.counter - 1};
        // Leaving needs min - counter - 1 more iterations of a byte each, so a token of at
        // most that many bytes cannot leave before its end; ending exactly where leaving
        // becomes possible, it is alive in the looping precheck too.
        // With few bytes to go, most tokens would need the re-check: the plain set is cheaper.
        int32_t remaining = rep.min - f.counter - 1;
        if (remaining >= kMinLoopingBudget) return {n.state, kLooping, remaining};
      }
    }
    return {n.state, kPlain, 0};
  }

  // Candidates are sorted trie positions, so neighbours share prefixes: levels[k] holds the
  // frontier after the first k bytes of the previous candidate and is reused up to their LCP.
  void CheckUncertain(const std::vector<int32_t>& candidates, uint32_t* words) const {
    const TokenTrie& trie = tok->Trie();
    const std::vector<std::string>& vocab = tok->MatchedVocab();
    size_t base = arena.Size();
    levels[0] = cur;
    marks[0] = base;
    size_t valid = 0;  // levels[0..valid] belong to the previous candidate
    const std::string* prev = nullptr;
    try {
      for (int32_t q : candidates) {
        int32_t id = trie.TokenAt(q);
        const std::string& t = vocab[id];
        size_t lcp = 0;
        if (prev) {
          size_t lim = std::min({prev->size(), t.size(), valid});
          while (lcp < lim && (*prev)[lcp] == t[lcp]) ++lcp;
        }
        size_t k = lcp;
        arena.Truncate(marks[k]);
        while (k < t.size() && !levels[k].tops.empty()) {
          runner.Step(levels[k], static_cast<uint8_t>(t[k]), &levels[k + 1]);
          marks[++k] = arena.Size();
        }
        valid = k;
        prev = &t;
        if (k == t.size() && levels[k].Alive()) SetBit(words, id);
      }
    } catch (...) {
      arena.Truncate(base);
      throw;
    }
    arena.Truncate(base);
  }

  std::string JumpForward() const {
    if (terminated) return "";
    size_t base = arena.Size();
    Frontier f = cur, next;
    std::string out;
    while (!f.can_end && !f.tops.empty() && out.size() < kMaxJumpForwardBytes) {
      int only = -1;
      bool several = false;
      for (int32_t top : f.tops) {
        const ByteSet& bytes = a->DirectBytes(arena[top].state);
        for (int b = 0; b < 256 && !several; ++b) {
          if (!bytes[b]) continue;
          if (only < 0) {
            only = b;
          } else if (only != b) {
            several = true;
          }
        }
        if (several) break;
      }
      // A special token's marker is a token, not text to jump over.
      if (several || only < 0 || only == static_cast<uint8_t>(kSpecialMarkerByte)) break;
      runner.Step(f, static_cast<uint8_t>(only), &next);
      std::swap(f, next);
      out.push_back(static_cast<char>(only));
    }
    arena.Truncate(base);
    return out;
  }

  struct Saved {
    size_t arena_size;
    std::vector<int32_t> tops;
    bool can_end;
    bool terminated;
  };

  std::shared_ptr<const CompiledGrammar> grammar;
  const Automaton* a;
  const MaskCache* masks;
  const TokenizerInfo* tok;
  int32_t max_rollback;
  // Mask computation and jump-forward intern speculative nodes and truncate them again, so the
  // arena changes during const calls but is restored before they return.
  mutable StackArena arena;
  mutable PdaRunner runner;
  Frontier cur;
  bool terminated = false;
  std::vector<Saved> history;  // the state before each step
  mutable std::vector<Frontier> levels;
  mutable std::vector<size_t> marks;
  mutable std::vector<int32_t> counted_q, counted_k;  // DropOutOfBounds' state per trie depth
  mutable std::vector<uint32_t> scratch;
  uint64_t epoch = 0;  // bumped whenever node ids may be reused (rollback, reset)
  mutable uint64_t cached_epoch = ~0ull;
  mutable bool cached_can_end = false;
  mutable std::vector<int32_t> cached_tops;
  mutable std::vector<uint32_t> cached_mask;
};

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar,
                               int32_t max_rollback_tokens)
    : state_(std::make_unique<MatcherState>(std::move(grammar), max_rollback_tokens)) {}

GrammarMatcher::GrammarMatcher(const GrammarMatcher& other)
    : state_(std::make_unique<MatcherState>(*other.state_)) {}

GrammarMatcher::~GrammarMatcher() = default;

bool GrammarMatcher::AcceptToken(int32_t id) {
  MatcherState& s = *state_;
  if (id < 0 || id >= s.tok->VocabSize()) {
    throw std::invalid_argument("token id " + std::to_string(id) + " is outside [0, " +
                                std::to_string(s.tok->VocabSize()) + ")");
  }
  s.CheckUsable();
  if (s.tok->IsStop(id)) {
    if (!s.cur.can_end) return false;
    s.PushHistory(s.arena.Size());
    s.terminated = true;
    return true;
  }
  if (!s.tok->IsText(id)) return false;
  return s.AcceptBytes(s.tok->MatchedVocab()[id]);
}

bool GrammarMatcher::AcceptBytes(const std::string& bytes) {
  state_->CheckUsable();
  // Byte 0xFF only starts a special token's marker: a string cannot stand in for the token.
  if (bytes.find(kSpecialMarkerByte) != std::string::npos) return false;
  return state_->AcceptBytes(bytes);
}

void GrammarMatcher::FillNextTokenBitmask(uint32_t* words) const { state_->Fill(words); }
bool GrammarMatcher::IsTerminated() const { return state_->terminated; }
bool GrammarMatcher::IsCompleted() const { return state_->terminated || state_->cur.can_end; }

void GrammarMatcher::Rollback(int32_t n) {
  MatcherState& s = *state_;
  if (n < 0 || static_cast<size_t>(n) > s.history.size()) {
    throw std::invalid_argument("cannot roll back " + std::to_string(n) + " steps: only " +
                                std::to_string(s.history.size()) + " can be undone");
  }
  if (n == 0) return;
  ++s.epoch;
  MatcherState::Saved& saved = s.history[s.history.size() - n];
  s.arena.Truncate(saved.arena_size);
  s.cur.tops = std::move(saved.tops);
  s.cur.can_end = saved.can_end;
  s.cur.escaped = false;
  s.terminated = saved.terminated;
  s.history.resize(s.history.size() - n);
}

void GrammarMatcher::Reset() { state_->Reset(); }
std::string GrammarMatcher::FindJumpForwardBytes() const { return state_->JumpForward(); }
int32_t GrammarMatcher::NumSteps() const { return static_cast<int32_t>(state_->history.size()); }
const std::shared_ptr<const CompiledGrammar>& GrammarMatcher::Grammar() const {
  return state_->grammar;
}

}  // namespace formgate

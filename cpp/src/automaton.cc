// Automaton::Build: IR -> per-rule Thompson NFA -> subset construction -> Moore minimisation ->
// one global state numbering with a byte-class transition table, then FIRST/FOLLOW byte sets.
#include "automaton.h"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "formgate/error.h"
#include "utf8.h"

namespace formgate {

namespace {

struct VectorHash {
  size_t operator()(const std::vector<int32_t>& v) const {
    size_t h = v.size();
    for (int32_t x : v) h = h * 1000003u ^ static_cast<size_t>(x) * 0x9E3779B97F4A7C15ull;
    return h;
  }
};

struct ByteEdge {
  uint8_t lo, hi;
  int32_t to;
};
struct SymEdge {
  int32_t sym;
  int32_t to;
};

// Edges live in flat arrays, threaded per state as singly linked lists (edges are added to
// states long after they are created, and a vector per state cost three allocations each).
// Iteration order is irrelevant: subset construction sorts what it collects.
struct Nfa {
  template <typename Edge>
  struct Lists {
    std::vector<int32_t> head;
    std::vector<Edge> edges;
    std::vector<int32_t> next;
    void Add(int32_t s, Edge e) {
      edges.push_back(e);
      next.push_back(head[s]);
      head[s] = static_cast<int32_t>(edges.size()) - 1;
    }
    template <typename F>
    void ForEach(int32_t s, F f) const {
      for (int32_t k = head[s]; k >= 0; k = next[k]) f(edges[k]);
    }
    void Clear() {
      head.clear();
      edges.clear();
      next.clear();
    }
  };
  Lists<int32_t> eps;
  Lists<ByteEdge> bytes;
  Lists<SymEdge> syms;
  int32_t New() {
    eps.head.push_back(-1);
    bytes.head.push_back(-1);
    syms.head.push_back(-1);
    return Size() - 1;
  }
  int32_t Size() const { return static_cast<int32_t>(eps.head.size()); }
  void Clear() {
    eps.Clear();
    bytes.Clear();
    syms.Clear();
  }
};

// Flat arrays: state s's edges are bytes[byte_off[s], byte_off[s + 1]) and likewise for syms
// (a vector per state made a DFA's construction mostly malloc and free).
struct Dfa {
  std::vector<uint8_t> final;
  std::vector<int32_t> byte_off{0};
  std::vector<ByteEdge> bytes;  // per state: sorted, disjoint
  std::vector<int32_t> sym_off{0};
  std::vector<SymEdge> syms;    // per state: sorted by sym
  int32_t NumStates() const { return static_cast<int32_t>(final.size()); }
  const ByteEdge* BytesBegin(int32_t s) const { return bytes.data() + byte_off[s]; }
  const ByteEdge* BytesEnd(int32_t s) const { return bytes.data() + byte_off[s + 1]; }
  const SymEdge* SymsBegin(int32_t s) const { return syms.data() + sym_off[s]; }
  const SymEdge* SymsEnd(int32_t s) const { return syms.data() + sym_off[s + 1]; }
  void EndState() {
    byte_off.push_back(static_cast<int32_t>(bytes.size()));
    sym_off.push_back(static_cast<int32_t>(syms.size()));
  }
};

// A call symbol: plain call of `rule`, or a counted repetition (repeat >= 0).
struct Symbol {
  int32_t rule;
  int32_t repeat;
};

}  // namespace

class AutomatonBuilder {
 public:
  AutomatonBuilder(const Grammar& g, int32_t max_growth) : g_(g), max_growth_(max_growth) {
    for (const Rule& r : g.rules) jobs_.push_back({r.name, r.body});
    plain_symbol_.assign(g.rules.size(), -1);
  }

  Automaton Build() {
    std::vector<Dfa> dfas;
    // Jobs grow while we compile: counted repetitions add auxiliary rules.
    for (size_t r = 0; r < jobs_.size(); ++r) {
      Nfa& nfa = nfa_;
      nfa.Clear();
      tail_in_.clear();
      int32_t out = nfa.New();
      int32_t in = BuildTail(&nfa, jobs_[r].body, static_cast<int32_t>(r), out);
      dfas.push_back(Minimize(Determinize(nfa, in, out, static_cast<int32_t>(r))));
    }
    return Assemble(dfas);
  }

 private:
  struct Job {
    std::string name;
    int32_t body;
  };

  int32_t PlainSymbol(int32_t rule) {
    if (plain_symbol_[rule] < 0) {
      plain_symbol_[rule] = static_cast<int32_t>(symbols_.size());
      symbols_.push_back({rule, -1});
    }
    return plain_symbol_[rule];
  }

  int32_t RepeatSymbol(int32_t body, int32_t min, int32_t max, int32_t owner) {
    int32_t rule = static_cast<int32_t>(jobs_.size());
    jobs_.push_back({jobs_[owner].name + "#repeat" + std::to_string(repeats_.size()), body});
    plain_symbol_.push_back(-1);
    repeats_.push_back({min, max});
    symbols_.push_back({rule, static_cast<int32_t>(repeats_.size()) - 1});
    return static_cast<int32_t>(symbols_.size()) - 1;
  }

  int64_t ExprSize(int32_t e) const {
    const Expr& x = g_.exprs[e];
    switch (x.kind) {
      case ExprKind::kBytes:
        return static_cast<int64_t>(x.bytes.size());
      case ExprKind::kCharClass:
        return 2 * static_cast<int64_t>(x.ranges.size()) + 1;
      case ExprKind::kSequence:
      case ExprKind::kChoice: {
        int64_t n = 1;
        for (int32_t c : x.children) n += ExprSize(c);
        return n;
      }
      case ExprKind::kRepeat: {
        // As BuildRepeat builds it: x* and x+ are one copy.
        int64_t copies = x.max == -1 ? (x.min <= 1 ? 1 : x.min + 1) : x.max;
        return 1 + std::min<int64_t>(ExprSize(x.children[0]) * copies, 1 << 30);
      }
      default:
        return 1;
    }
  }

  void CheckNfaSize(const Nfa& nfa, int32_t rule) const {
    if (nfa.Size() > 4 * kMaxStatesPerRule) {
      throw LimitError("rule '" + jobs_[rule].name + "' is too large to compile (over " +
                       std::to_string(4 * kMaxStatesPerRule) + " automaton states)");
    }
  }

  // Builds `e` followed by the end of the rule (state `end`) and returns its entry. An
  // expression in tail position has one fragment per rule, however many places reach it:
  // inlined bodies are shared subtrees, and a shared suffix such as a JSON key's
  // `key_char* "\""` after each node of an exclusion trie would otherwise get a copy per node,
  // each with its own UTF-8 states, which subset construction keeps apart and only
  // minimisation merges again (up to 25x the minimal DFA on MaskBench key rules).
  int32_t BuildTail(Nfa* nfa, int32_t e, int32_t rule, int32_t end) {
    auto memo = tail_in_.find(e);
    if (memo != tail_in_.end()) return memo->second;
    const Expr& x = g_.exprs[e];
    int32_t in;
    if (x.kind == ExprKind::kSequence && !x.children.empty()) {
      int32_t last = BuildTail(nfa, x.children.back(), rule, end);
      in = last;
      if (x.children.size() > 1) {
        auto [ci, co] = BuildChain(nfa, x.children.data(), x.children.size() - 1, rule);
        nfa->eps.Add(co, last);
        in = ci;
      }
    } else if (x.kind == ExprKind::kChoice) {
      in = nfa->New();
      for (int32_t c : x.children) {
        int32_t ci = BuildTail(nfa, c, rule, end);
        nfa->eps.Add(in, ci);
      }
    } else {
      auto [ci, co] = BuildExpr(nfa, e, rule);
      nfa->eps.Add(co, end);
      in = ci;
    }
    tail_in_.emplace(e, in);
    return in;
  }

  // The `n` (>= 1) expressions one after another.
  std::pair<int32_t, int32_t> BuildChain(Nfa* nfa, const int32_t* exprs, size_t n, int32_t rule) {
    auto [in, cur] = BuildExpr(nfa, exprs[0], rule);
    for (size_t i = 1; i < n; ++i) {
      auto [ci, co] = BuildExpr(nfa, exprs[i], rule);
      nfa->eps.Add(cur, ci);
      cur = co;
    }
    return {in, cur};
  }

  std::pair<int32_t, int32_t> BuildExpr(Nfa* nfa, int32_t e, int32_t rule) {
    CheckNfaSize(*nfa, rule);
    const Expr& x = g_.exprs[e];
    switch (x.kind) {
      case ExprKind::kEmpty: {
        int32_t s = nfa->New();
        return {s, s};
      }
      case ExprKind::kBytes: {
        int32_t in = nfa->New(), cur = in;
        for (unsigned char b : x.bytes) {
          int32_t t = nfa->New();
          nfa->bytes.Add(cur, {b, b, t});
          cur = t;
        }
        return {in, cur};
      }
      case ExprKind::kCharClass: {
        // Sequences that end alike share their tail states (all of [80-BF] -> out, say), as
        // RE2 does: otherwise each multi-byte range has its own continuation states, which
        // subset construction keeps apart and only minimisation merges again.
        int32_t in = nfa->New(), out = nfa->New();
        std::map<std::vector<uint16_t>, int32_t> tails;
        for (const ByteRangeSeq& seq : Utf8Sequences(x.ranges)) {
          int32_t next = out;
          std::vector<uint16_t> suffix;
          for (size_t i = seq.size(); i-- > 1;) {
            suffix.push_back(static_cast<uint16_t>(seq[i].lo << 8 | seq[i].hi));
            auto [it, fresh] = tails.emplace(suffix, -1);
            if (fresh) {
              it->second = nfa->New();
              nfa->bytes.Add(it->second, {seq[i].lo, seq[i].hi, next});
            }
            next = it->second;
          }
          nfa->bytes.Add(in, {seq[0].lo, seq[0].hi, next});
        }
        return {in, out};
      }
      case ExprKind::kRuleRef: {
        int32_t in = nfa->New(), out = nfa->New();
        nfa->syms.Add(in, {PlainSymbol(x.rule), out});
        return {in, out};
      }
      case ExprKind::kSequence:
        if (x.children.empty()) {
          int32_t s = nfa->New();
          return {s, s};
        }
        return BuildChain(nfa, x.children.data(), x.children.size(), rule);
      case ExprKind::kChoice: {
        int32_t in = nfa->New(), out = nfa->New();
        for (int32_t c : x.children) {
          auto [ci, co] = BuildExpr(nfa, c, rule);
          nfa->eps.Add(in, ci);
          nfa->eps.Add(co, out);
        }
        return {in, out};
      }
      case ExprKind::kRepeat:
        return BuildRepeat(nfa, x, rule);
      case ExprKind::kToken:
        // CompiledGrammar lowers special tokens to their marker bytes first.
        throw std::logic_error("special-token terminal reached the automaton builder");
    }
    return {nfa->New(), nfa->New()};
  }

  std::pair<int32_t, int32_t> BuildRepeat(Nfa* nfa, const Expr& x, int32_t rule) {
    int32_t body = x.children[0];
    int32_t in = nfa->New(), cur = in;
    if (x.min == 1 && x.max == -1) {
      // x+ as one copy that loops back: a copy for the first x plus one for the loop doubled
      // the NFA at every level of nesting (`.++++` took seconds to compile, found by fuzzing).
      auto [ci, co] = BuildExpr(nfa, body, rule);
      int32_t out = nfa->New();
      nfa->eps.Add(in, ci);
      nfa->eps.Add(co, out);
      nfa->eps.Add(out, ci);
      return {in, out};
    }
    int64_t size = ExprSize(body);
    auto append_copy = [&](bool optional) {
      auto [ci, co] = BuildExpr(nfa, body, rule);
      nfa->eps.Add(cur, ci);
      int32_t next = nfa->New();
      nfa->eps.Add(co, next);
      if (optional) nfa->eps.Add(cur, next);
      cur = next;
    };
    auto append_counter = [&](int32_t min, int32_t max) {
      int32_t next = nfa->New();
      nfa->syms.Add(cur, {RepeatSymbol(body, std::max(min, 1), max, rule), next});
      if (min == 0) nfa->eps.Add(cur, next);
      cur = next;
    };
    int32_t fixed = x.min;
    // `x{m,}` with a counter is a counter for m copies followed by a loop of the same body, and
    // a loop that starts like an iteration keeps masks from counting iterations along the
    // closure (CountedStart): a small m is worth more copies.
    bool unroll = (x.max == -1 ? x.min : x.max) <= kMaxUnrolledCopies &&
                  size * (x.max == -1 ? x.min + 1 : x.max) <=
                      (x.max == -1 ? kMaxUnrolledMinOnlySize : kMaxUnrolledSize);
    if (unroll) {
      for (int32_t i = 0; i < fixed; ++i) append_copy(false);
      if (x.max != -1) {
        // Nested optionals (a (a (a)?)?)? keep the NFA small and deterministic-friendly.
        std::vector<int32_t> skips;
        for (int32_t i = fixed; i < x.max; ++i) {
          skips.push_back(cur);
          append_copy(false);
        }
        for (int32_t s : skips) nfa->eps.Add(s, cur);
      }
    } else if (x.max == -1) {
      if (fixed > 0) append_counter(fixed, fixed);
    } else {
      append_counter(x.min, x.max);
    }
    if (x.max == -1) {
      int32_t loop = nfa->New();
      nfa->eps.Add(cur, loop);
      auto [ci, co] = BuildExpr(nfa, body, rule);
      nfa->eps.Add(loop, ci);
      nfa->eps.Add(co, loop);
      cur = loop;
    }
    return {in, cur};
  }

  // Replaces `set` by its epsilon closure, sorted; `work` is scratch.
  static void EpsClose(const Nfa& nfa, std::vector<int32_t>* set, std::vector<int32_t>* work,
                       std::vector<uint32_t>* stamp, uint32_t gen) {
    work->assign(set->begin(), set->end());
    set->clear();
    while (!work->empty()) {
      int32_t s = work->back();
      work->pop_back();
      if ((*stamp)[s] == gen) continue;
      (*stamp)[s] = gen;
      set->push_back(s);
      nfa.eps.ForEach(s, [&](int32_t t) { work->push_back(t); });
    }
    std::sort(set->begin(), set->end());
  }

  Dfa Determinize(const Nfa& nfa, int32_t in, int32_t out, int32_t rule) {
    DetScratch& w = det_;
    const int64_t state_limit =
        max_growth_ > 0 ? std::min<int64_t>(kMaxStatesPerRule,
                                            int64_t{max_growth_} * nfa.Size() + 1000)
                        : kMaxStatesPerRule;
    std::vector<uint32_t>& stamp = w.stamp;
    stamp.assign(nfa.Size(), 0);
    uint32_t gen = 0;
    // Subsets are interned in an open-addressing table of ids into `sets`, so a lookup builds
    // no key (most rules are literals: one small subset per byte, compiled per schema).
    std::vector<int32_t>& set_data = w.set_data;  // subset k: set_data[set_off[k], set_off[k+1])
    std::vector<int32_t>& set_off = w.set_off;
    set_data.clear();
    set_off.assign(1, 0);
    std::vector<size_t>& hashes = w.hashes;
    hashes.clear();
    std::vector<int32_t>& table = w.table;
    table.assign(64, -1);
    std::vector<int32_t>& scratch = w.scratch;
    std::vector<int32_t>& work = w.work;
    auto intern = [&](std::vector<int32_t>* set) -> int32_t {
      EpsClose(nfa, set, &work, &stamp, ++gen);
      size_t h = VectorHash()(*set);
      size_t mask = table.size() - 1;
      size_t slot = h & mask;
      for (; table[slot] >= 0; slot = (slot + 1) & mask) {
        int32_t id = table[slot];
        if (hashes[id] == h && set_off[id + 1] - set_off[id] == static_cast<int32_t>(set->size()) &&
            std::equal(set->begin(), set->end(), set_data.begin() + set_off[id])) {
          return id;
        }
      }
      int32_t id = static_cast<int32_t>(hashes.size());
      if (id >= state_limit) {
        if (state_limit < kMaxStatesPerRule) {
          throw LimitError("rule '" + jobs_[rule].name + "' grows past " +
                           std::to_string(max_growth_) + "x its NFA's states");
        }
        throw LimitError("rule '" + jobs_[rule].name + "' needs more than " +
                         std::to_string(kMaxStatesPerRule) +
                         " automaton states (a pattern with exponential blow-up?)");
      }
      table[slot] = id;
      set_data.insert(set_data.end(), set->begin(), set->end());
      set_off.push_back(static_cast<int32_t>(set_data.size()));
      hashes.push_back(h);
      if (hashes.size() * 2 > table.size()) {
        table.assign(table.size() * 2, -1);
        size_t m = table.size() - 1;
        for (int32_t k = 0; k < static_cast<int32_t>(hashes.size()); ++k) {
          size_t t = hashes[k] & m;
          while (table[t] >= 0) t = (t + 1) & m;
          table[t] = k;
        }
      }
      return id;
    };
    Dfa dfa;
    scratch.assign(1, in);
    intern(&scratch);
    std::vector<Event>& events = w.events;
    std::vector<int32_t>& open = w.open;
    std::vector<ByteEdge>& edges = w.edges;
    std::vector<std::pair<int32_t, int32_t>>& sym_edges = w.sym_edges;  // (symbol, target)
    for (size_t d = 0; d < hashes.size(); ++d) {
      bool final = false;
      edges.clear();
      sym_edges.clear();
      for (int32_t k = set_off[d]; k < set_off[d + 1]; ++k) {
        int32_t s = set_data[k];
        if (s == out) final = true;
        nfa.bytes.ForEach(s, [&](const ByteEdge& e) { edges.push_back(e); });
        nfa.syms.ForEach(s, [&](const SymEdge& e) { sym_edges.push_back({e.sym, e.to}); });
      }
      // Sweep the byte axis once: an edge opens at lo and closes after hi; between two event
      // positions the open edges' targets form one DFA transition. (Comparing every interval
      // with every edge was quadratic for UTF-8 classes with many ranges.)
      events.clear();
      for (const ByteEdge& e : edges) {
        events.push_back({e.lo, e.to, 1});
        events.push_back({e.hi + 1, e.to, -1});
      }
      std::sort(events.begin(), events.end(),
                [](const Event& x, const Event& y) { return x.pos < y.pos; });
      open.clear();
      for (size_t k = 0; k < events.size();) {
        int pos = events[k].pos;
        for (; k < events.size() && events[k].pos == pos; ++k) {
          if (events[k].delta > 0) {
            open.push_back(events[k].to);
          } else {
            open.erase(std::find(open.begin(), open.end(), events[k].to));
          }
        }
        if (open.empty() || k == events.size()) continue;
        int lo = pos, hi = events[k].pos - 1;
        scratch.assign(open.begin(), open.end());
        int32_t to = intern(&scratch);
        if (dfa.bytes.size() > static_cast<size_t>(dfa.byte_off.back()) &&
            dfa.bytes.back().to == to && dfa.bytes.back().hi + 1 == lo) {
          dfa.bytes.back().hi = static_cast<uint8_t>(hi);
        } else {
          dfa.bytes.push_back({static_cast<uint8_t>(lo), static_cast<uint8_t>(hi), to});
        }
      }
      // One transition per symbol, to the subset of all its targets (in symbol order).
      std::sort(sym_edges.begin(), sym_edges.end());
      for (size_t k = 0; k < sym_edges.size();) {
        size_t j = k;
        scratch.clear();
        for (; j < sym_edges.size() && sym_edges[j].first == sym_edges[k].first; ++j) {
          scratch.push_back(sym_edges[j].second);
        }
        int32_t sym = sym_edges[k].first;
        dfa.syms.push_back({sym, intern(&scratch)});
        k = j;
      }
      dfa.final.push_back(final);
      dfa.EndState();
    }
    return dfa;
  }

  // The state's outgoing transitions in terms of the blocks they reach, appended to `sig`.
  static void Signature(const Dfa& dfa, int32_t s, const std::vector<int32_t>& block,
                        std::vector<int32_t>* sig) {
    size_t first = sig->size();
    sig->push_back(dfa.final[s] ? 1 : 0);
    for (const ByteEdge* e = dfa.BytesBegin(s); e != dfa.BytesEnd(s); ++e) {
      int32_t b = block[e->to];
      size_t k = sig->size();
      if (k >= first + 4 && (*sig)[k - 1] == b && (*sig)[k - 2] + 1 == e->lo) {
        (*sig)[k - 2] = e->hi;
      } else {
        sig->insert(sig->end(), {-1, e->lo, e->hi, b});
      }
    }
    for (const SymEdge* e = dfa.SymsBegin(s); e != dfa.SymsEnd(s); ++e) {
      sig->insert(sig->end(), {-2, e->sym, block[e->to]});
    }
  }

  // Partition refinement where each round re-examines only the predecessors of states that
  // changed block in the previous round (plain Moore rounds cost O(states) each, and a chain of
  // k states needs k rounds: an 8,000-byte literal took 17 s). Within a block, the states not
  // re-examined all still share one signature, so a block splits into that group plus the
  // re-examined states whose signature differs; the larger part keeps the block's id. The
  // result is the coarsest stable partition whatever the order of splits; it is numbered by
  // first appearance, so the start state's block is state 0.
  Dfa Minimize(const Dfa& dfa) {
    MinScratch& w = min_;
    int32_t n = dfa.NumStates();
    // Predecessors in CSR form.
    std::vector<int32_t>& pred_off = w.pred_off;
    std::vector<int32_t>& preds = w.preds;
    pred_off.assign(n + 1, 0);
    for (const ByteEdge& e : dfa.bytes) ++pred_off[e.to + 1];
    for (const SymEdge& e : dfa.syms) ++pred_off[e.to + 1];
    for (int32_t s = 0; s < n; ++s) pred_off[s + 1] += pred_off[s];
    preds.resize(pred_off[n]);
    {
      std::vector<int32_t>& fill = w.fill;
      fill.assign(pred_off.begin(), pred_off.end() - 1);
      for (int32_t s = 0; s < n; ++s) {
        for (const ByteEdge* e = dfa.BytesBegin(s); e != dfa.BytesEnd(s); ++e) preds[fill[e->to]++] = s;
        for (const SymEdge* e = dfa.SymsBegin(s); e != dfa.SymsEnd(s); ++e) preds[fill[e->to]++] = s;
      }
    }
    // Refinable partition: block b holds elems[start[b], end[b]).
    std::vector<int32_t>& block = w.block;
    std::vector<int32_t>& elems = w.elems;
    std::vector<int32_t>& pos = w.pos;
    std::vector<int32_t>& start = w.start;
    std::vector<int32_t>& end = w.end;
    block.assign(n, 0);
    elems.resize(n);
    pos.resize(n);
    start.assign(1, 0);
    end.assign(1, n);
    for (int32_t s = 0; s < n; ++s) elems[s] = pos[s] = s;
    auto move_out = [&](int32_t s, int32_t to) {
      int32_t b = block[s];
      int32_t last = --end[b];
      int32_t other = elems[last];
      std::swap(elems[pos[s]], elems[last]);
      pos[other] = pos[s];
      pos[s] = last;
      block[s] = to;
    };
    std::vector<uint32_t>& stamp = w.stamp;
    stamp.assign(n, 0);
    uint32_t round = 0;
    std::vector<int32_t>& candidates = w.candidates;
    candidates.resize(n);
    for (int32_t s = 0; s < n; ++s) candidates[s] = s;
    // Per block: candidates' signatures (flat), their hashes, and candidate order sorted by
    // signature so that equal signatures are adjacent groups.
    std::vector<int32_t>& sig = w.sig;
    std::vector<int32_t>& sig_off = w.sig_off;
    std::vector<int32_t>& order = w.order;
    std::vector<int32_t>& group_start = w.group_start;
    std::vector<size_t>& sig_hash = w.sig_hash;
    // Splits of one round.
    std::vector<int32_t>& moved = w.moved;
    std::vector<int32_t>& group_end = w.group_end;
    std::vector<int32_t>& split_block = w.split_block;
    std::vector<int32_t>& split_first = w.split_first;
    auto sig_equal = [&](int32_t a, int32_t b) {
      return sig_off[a + 1] - sig_off[a] == sig_off[b + 1] - sig_off[b] &&
             std::equal(sig.begin() + sig_off[a], sig.begin() + sig_off[a + 1],
                        sig.begin() + sig_off[b]);
    };
    while (!candidates.empty()) {
      ++round;
      for (int32_t s : candidates) stamp[s] = round;
      std::sort(candidates.begin(), candidates.end(),
                [&](int32_t a, int32_t b) { return block[a] < block[b]; });
      moved.clear();
      group_end.clear();
      split_block.clear();
      split_first.clear();
      for (size_t i = 0; i < candidates.size();) {
        int32_t b = block[candidates[i]];
        size_t j = i;
        while (j < candidates.size() && block[candidates[j]] == b) ++j;
        int32_t m = static_cast<int32_t>(j - i);
        // Signatures computed with start-of-round blocks.
        sig.clear();
        sig_off.assign(1, 0);
        sig_hash.clear();
        for (size_t k = i; k < j; ++k) {
          Signature(dfa, candidates[k], block, &sig);
          sig_off.push_back(static_cast<int32_t>(sig.size()));
          size_t h = 0;
          for (int32_t q = sig_off[sig_off.size() - 2]; q < sig_off.back(); ++q) {
            h = h * 1000003u ^ static_cast<size_t>(sig[q]) * 0x9E3779B97F4A7C15ull;
          }
          sig_hash.push_back(h);
        }
        order.resize(m);
        for (int32_t k = 0; k < m; ++k) order[k] = k;
        std::sort(order.begin(), order.end(), [&](int32_t a, int32_t c) {
          if (sig_hash[a] != sig_hash[c]) return sig_hash[a] < sig_hash[c];
          return std::lexicographical_compare(sig.begin() + sig_off[a], sig.begin() + sig_off[a + 1],
                                              sig.begin() + sig_off[c],
                                              sig.begin() + sig_off[c + 1]);
        });
        group_start.clear();
        for (int32_t k = 0; k < m; ++k) {
          if (k == 0 || !sig_equal(order[k - 1], order[k])) group_start.push_back(k);
        }
        int32_t num_groups = static_cast<int32_t>(group_start.size());
        group_start.push_back(m);
        int32_t stay = -1;
        if (m < end[b] - start[b]) {
          // The block's other states share one signature: the group equal to it stays.
          for (int32_t p = start[b]; p < end[b]; ++p) {
            if (stamp[elems[p]] == round) continue;
            int32_t probe = static_cast<int32_t>(sig_off.size()) - 1;
            Signature(dfa, elems[p], block, &sig);
            sig_off.push_back(static_cast<int32_t>(sig.size()));
            for (int32_t g = 0; g < num_groups; ++g) {
              if (sig_equal(order[group_start[g]], probe)) {
                stay = g;
                break;
              }
            }
            break;
          }
        } else {
          stay = 0;
          for (int32_t g = 1; g < num_groups; ++g) {
            if (group_start[g + 1] - group_start[g] > group_start[stay + 1] - group_start[stay]) {
              stay = g;
            }
          }
        }
        for (int32_t g = 0; g < num_groups; ++g) {
          if (g == stay) continue;
          if (split_block.empty() || split_block.back() != b) {
            split_block.push_back(b);
            split_first.push_back(static_cast<int32_t>(group_end.size()));
          }
          for (int32_t k = group_start[g]; k < group_start[g + 1]; ++k) {
            moved.push_back(candidates[i + order[k]]);
          }
          group_end.push_back(static_cast<int32_t>(moved.size()));
        }
        i = j;
      }
      split_first.push_back(static_cast<int32_t>(group_end.size()));
      candidates.clear();
      ++round;
      for (size_t sp = 0; sp + 1 < split_first.size(); ++sp) {
        int32_t b = split_block[sp];
        for (int32_t g = split_first[sp]; g < split_first[sp + 1]; ++g) {
          int32_t g0 = g == 0 ? 0 : group_end[g - 1];
          int32_t nb = static_cast<int32_t>(start.size());
          start.push_back(end[b] - (group_end[g] - g0));
          end.push_back(end[b]);
          for (int32_t k = g0; k < group_end[g]; ++k) move_out(moved[k], nb);
          for (int32_t k = g0; k < group_end[g]; ++k) {
            for (int32_t q = pred_off[moved[k]]; q < pred_off[moved[k] + 1]; ++q) {
              int32_t p = preds[q];
              if (stamp[p] != round) {
                stamp[p] = round;
                candidates.push_back(p);
              }
            }
          }
        }
      }
    }
    size_t num_blocks = start.size();
    // Renumber by first appearance, so the start state's block is 0.
    std::vector<int32_t>& id = w.id;
    std::vector<int32_t>& rep = w.rep;
    id.assign(num_blocks, -1);
    rep.clear();
    for (int32_t s = 0; s < n; ++s) {
      if (id[block[s]] < 0) {
        id[block[s]] = static_cast<int32_t>(rep.size());
        rep.push_back(s);
      }
    }
    Dfa out;
    for (int32_t r : rep) {
      out.final.push_back(dfa.final[r]);
      size_t first = out.bytes.size();
      for (const ByteEdge* e = dfa.BytesBegin(r); e != dfa.BytesEnd(r); ++e) {
        int32_t to = id[block[e->to]];
        if (out.bytes.size() > first && out.bytes.back().to == to && out.bytes.back().hi + 1 == e->lo) {
          out.bytes.back().hi = e->hi;
        } else {
          out.bytes.push_back({e->lo, e->hi, to});
        }
      }
      for (const SymEdge* e = dfa.SymsBegin(r); e != dfa.SymsEnd(r); ++e) {
        out.syms.push_back({e->sym, id[block[e->to]]});
      }
      out.EndState();
    }
    return out;
  }

  Automaton Assemble(const std::vector<Dfa>& dfas) {
    Automaton a;
    int64_t total = 0;
    for (size_t r = 0; r < dfas.size(); ++r) {
      a.rule_start_.push_back(static_cast<int32_t>(total));
      a.rule_names_.push_back(jobs_[r].name);
      total += dfas[r].NumStates();
      if (total > kMaxStates) {
        throw LimitError("grammar needs more than " + std::to_string(kMaxStates) +
                         " automaton states");
      }
    }
    int32_t n = static_cast<int32_t>(total);
    a.repeats_ = repeats_;
    a.rule_repeat_.assign(dfas.size(), -1);
    for (const Symbol& sym : symbols_) {
      if (sym.repeat >= 0) a.rule_repeat_[sym.rule] = sym.repeat;
    }
    a.final_.assign(n, 0);
    a.has_bytes_.assign(n, 0);
    a.state_rule_.assign(n, 0);
    a.call_offsets_.assign(n + 1, 0);
    a.direct_bytes_.assign(n, ByteSet());
    // Byte classes: cut at every range boundary, then merge classes with identical columns.
    std::vector<bool> cut(257, false);
    cut[0] = cut[256] = true;
    for (const Dfa& d : dfas) {
      for (const ByteEdge& e : d.bytes) cut[e.lo] = cut[e.hi + 1] = true;
    }
    std::array<int32_t, 256> interval{};
    int32_t num_intervals = 0;
    for (int b = 0; b < 256; ++b) {
      if (b > 0 && cut[b]) ++num_intervals;
      interval[b] = num_intervals;
    }
    ++num_intervals;
    std::vector<int32_t> table(static_cast<size_t>(n) * num_intervals, -1);
    for (size_t r = 0; r < dfas.size(); ++r) {
      int32_t base = a.rule_start_[r];
      const Dfa& d = dfas[r];
      for (int32_t i = 0; i < d.NumStates(); ++i) {
        int32_t s = base + i;
        a.state_rule_[s] = static_cast<int32_t>(r);
        a.final_[s] = d.final[i];
        a.has_bytes_[s] = d.BytesBegin(i) != d.BytesEnd(i);
        for (const ByteEdge* e = d.BytesBegin(i); e != d.BytesEnd(i); ++e) {
          for (int b = e->lo; b <= e->hi; ++b) {
            table[static_cast<size_t>(s) * num_intervals + interval[b]] = base + e->to;
            a.direct_bytes_[s].set(b);
          }
        }
        for (const SymEdge* e = d.SymsBegin(i); e != d.SymsEnd(i); ++e) {
          const Symbol& sym = symbols_[e->sym];
          a.calls_.push_back({sym.rule, base + e->to, sym.repeat});
        }
        a.call_offsets_[s + 1] = static_cast<int32_t>(a.calls_.size());
      }
    }
    // Columns are hashed in one row-major pass and compared in place only when hashes agree
    // (copying each column out was most of this function).
    std::vector<size_t> col_hash(num_intervals, 0);
    for (int32_t s = 0; s < n; ++s) {
      const int32_t* row = &table[static_cast<size_t>(s) * num_intervals];
      for (int32_t c = 0; c < num_intervals; ++c) {
        col_hash[c] = col_hash[c] * 1000003u ^ static_cast<size_t>(row[c] + 2) * 0x9E3779B97F4A7C15ull;
      }
    }
    auto same_column = [&](int32_t c, int32_t d) {
      for (int32_t s = 0; s < n; ++s) {
        const int32_t* row = &table[static_cast<size_t>(s) * num_intervals];
        if (row[c] != row[d]) return false;
      }
      return true;
    };
    std::vector<int32_t> interval_class(num_intervals);
    std::vector<int32_t> class_interval;  // a representative interval per class
    for (int32_t c = 0; c < num_intervals; ++c) {
      int32_t found = -1;
      for (size_t k = 0; k < class_interval.size() && found < 0; ++k) {
        int32_t d = class_interval[k];
        if (col_hash[d] == col_hash[c] && same_column(c, d)) found = static_cast<int32_t>(k);
      }
      if (found < 0) {
        found = static_cast<int32_t>(class_interval.size());
        class_interval.push_back(c);
      }
      interval_class[c] = found;
    }
    a.num_classes_ = static_cast<int32_t>(class_interval.size());
    for (int b = 0; b < 256; ++b) a.byte_class_[b] = static_cast<uint8_t>(interval_class[interval[b]]);
    a.next_.assign(static_cast<size_t>(n) * a.num_classes_, -1);
    for (int32_t s = 0; s < n; ++s) {
      for (int32_t c = 0; c < num_intervals; ++c) {
        a.next_[static_cast<size_t>(s) * a.num_classes_ + interval_class[c]] =
            table[static_cast<size_t>(s) * num_intervals + c];
      }
    }
    a.repeat_return_.assign(repeats_.size(), -2);
    for (const CallEdge& c : a.calls_) {
      if (c.repeat < 0) continue;
      int32_t& r = a.repeat_return_[c.repeat];
      r = (r == -2 || r == c.ret) ? c.ret : -1;
    }
    a.simple_.assign(n, 0);
    for (int32_t s = 0; s < n; ++s) {
      a.simple_[s] = a.has_bytes_[s] && !a.final_[s] && a.call_offsets_[s] == a.call_offsets_[s + 1];
    }
    ComputeFollow(&a);
    return a;
  }

  // FIRST(s): bytes consumable next from s (through calls and nullable callees); NULLABLE(s): s
  // can reach its rule's end without consuming. FOLLOW(r): bytes that may come after r returns.
  static void ComputeFollow(Automaton* a) {
    int32_t n = a->NumStates();
    std::vector<ByteSet> first(a->direct_bytes_);
    std::vector<uint8_t> nullable(a->final_);
    for (bool changed = true; changed;) {
      changed = false;
      for (int32_t s = n - 1; s >= 0; --s) {
        for (const CallEdge* c = a->CallsBegin(s); c != a->CallsEnd(s); ++c) {
          int32_t start = a->RuleStart(c->rule);
          ByteSet f = first[s] | first[start];
          bool nul = nullable[s];
          if (nullable[start]) {
            f |= first[c->ret];
            nul = nul || nullable[c->ret];
          }
          if (f != first[s] || nul != static_cast<bool>(nullable[s])) {
            first[s] = f;
            nullable[s] = nul;
            changed = true;
          }
        }
      }
    }
    a->first_ = first;
    a->nullable_ = nullable;
    a->follow_.assign(a->NumRules(), ByteSet());
    for (bool changed = true; changed;) {
      changed = false;
      for (int32_t s = 0; s < n; ++s) {
        int32_t owner = a->StateRule(s);
        for (const CallEdge* c = a->CallsBegin(s); c != a->CallsEnd(s); ++c) {
          ByteSet f = a->follow_[c->rule] | first[c->ret];
          if (nullable[c->ret]) f |= a->follow_[owner];
          if (c->repeat >= 0) f |= first[a->RuleStart(c->rule)];
          if (f != a->follow_[c->rule]) {
            a->follow_[c->rule] = f;
            changed = true;
          }
        }
      }
    }
  }

  const Grammar& g_;
  int32_t max_growth_;
  std::vector<Job> jobs_;
  std::vector<int32_t> plain_symbol_;
  std::vector<Symbol> symbols_;
  std::vector<RepeatInfo> repeats_;
  std::unordered_map<int32_t, int32_t> tail_in_;  // expr -> entry of its tail fragment (one rule)
  // Scratch reused from rule to rule: a grammar has hundreds of small rules, and fresh vectors
  // for each made a fifth of compile time malloc and free.
  Nfa nfa_;
  struct Event {
    int pos;
    int32_t to;
    int delta;
  };
  struct DetScratch {
    std::vector<uint32_t> stamp;
    std::vector<int32_t> set_data, set_off, table, scratch, work, open;
    std::vector<size_t> hashes;
    std::vector<Event> events;
    std::vector<ByteEdge> edges;
    std::vector<std::pair<int32_t, int32_t>> sym_edges;
  } det_;
  struct MinScratch {
    std::vector<int32_t> pred_off, preds, fill, block, elems, pos, start, end, candidates, sig,
        sig_off, order, group_start, moved, group_end, split_block, split_first, id, rep;
    std::vector<uint32_t> stamp;
    std::vector<size_t> sig_hash;
  } min_;
};

Automaton Automaton::Build(const Grammar& g, int32_t max_growth) {
  return AutomatonBuilder(g, max_growth).Build();
}

size_t Automaton::MemoryBytes() const {
  return next_.size() * sizeof(int32_t) + calls_.size() * sizeof(CallEdge) +
         state_rule_.size() * (sizeof(int32_t) * 2 + 2 + sizeof(ByteSet)) +
         follow_.size() * sizeof(ByteSet) + first_.size() * (sizeof(ByteSet) + 1);
}

std::string Automaton::Describe() const {
  std::string out;
  for (int32_t s = 0; s < NumStates(); ++s) {
    out += "s" + std::to_string(s) + " [" + rule_names_[state_rule_[s]] + "]" +
           (final_[s] ? " final" : "") + ":";
    for (int b = 0; b < 256; ++b) {
      int32_t t = Next(s, static_cast<uint8_t>(b));
      if (t >= 0) {
        int e = b;
        while (e + 1 < 256 && Next(s, static_cast<uint8_t>(e + 1)) == t) ++e;
        out += " " + std::to_string(b) + (e > b ? "-" + std::to_string(e) : "") + "->s" +
               std::to_string(t);
        b = e;
      }
    }
    for (const CallEdge* c = CallsBegin(s); c != CallsEnd(s); ++c) {
      out += " call " + rule_names_[c->rule] + "->s" + std::to_string(c->ret);
      if (c->repeat >= 0) {
        out += "{" + std::to_string(repeats_[c->repeat].min) + "," +
               std::to_string(repeats_[c->repeat].max) + "}";
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace formgate

#include "grammar_inliner.h"

#include <algorithm>

namespace formgate {

namespace {

class Inliner {
 public:
  Inliner(const Grammar& g, int64_t max_size) : g_(g), max_size_(max_size) {
    size_t n = g.rules.size();
    calls_.resize(n);
    for (size_t r = 0; r < n; ++r) CollectRefs(g.rules[r].body, &calls_[r]);
    recursive_.assign(n, false);
    inlined_.assign(n, -1);
    tail_size_.assign(n, -1);
    out_.rules = g.rules;
    out_.root = g.root;
  }

  Grammar Run() {
    // Callees before callers, so that Rewrite finds every non-recursive callee already done and
    // never recurses from one rule into another: a chain of 100,000 rules costs no stack.
    for (int32_t r : CalleesFirst()) out_.rules[r].body = Body(r);
    return DropUnreachable();
  }

 private:
  // Tarjan's strongly connected components, iteratively. Components come out callees first; a
  // rule is recursive iff its component has several rules or it calls itself.
  std::vector<int32_t> CalleesFirst() {
    int32_t n = static_cast<int32_t>(g_.rules.size());
    std::vector<int32_t> index(n, -1), low(n, 0), order, stack;
    std::vector<bool> on_stack(n, false);
    std::vector<std::pair<int32_t, size_t>> frames;  // (rule, next call to look at)
    int32_t counter = 0;
    for (int32_t start = 0; start < n; ++start) {
      if (index[start] >= 0) continue;
      frames.push_back({start, 0});
      while (!frames.empty()) {
        auto& [v, next] = frames.back();
        if (next == 0 && index[v] < 0) {
          index[v] = low[v] = counter++;
          stack.push_back(v);
          on_stack[v] = true;
        }
        if (next < calls_[v].size()) {
          int32_t w = calls_[v][next++];
          if (w == v) recursive_[v] = true;
          if (index[w] < 0) {
            frames.push_back({w, 0});
          } else if (on_stack[w]) {
            low[v] = std::min(low[v], index[w]);
          }
          continue;
        }
        int32_t done = v;
        frames.pop_back();
        if (!frames.empty()) {
          int32_t parent = frames.back().first;
          low[parent] = std::min(low[parent], low[done]);
        }
        if (low[done] == index[done]) {
          size_t first = stack.size();
          do {
            --first;
          } while (stack[first] != done);
          bool cycle = stack.size() - first > 1;
          for (size_t i = first; i < stack.size(); ++i) {
            on_stack[stack[i]] = false;
            if (cycle) recursive_[stack[i]] = true;
            order.push_back(stack[i]);
          }
          stack.resize(first);
        }
      }
    }
    return order;
  }

  void CollectRefs(int32_t e, std::vector<int32_t>* out) const {
    const Expr& x = g_.exprs[e];
    if (x.kind == ExprKind::kRuleRef) out->push_back(x.rule);
    for (int32_t c : x.children) CollectRefs(c, out);
  }

  // The rule's body in out_, with small non-recursive callees inlined (memoised).
  int32_t Body(int32_t r) {
    if (inlined_[r] >= 0) return inlined_[r];
    inlined_[r] = Rewrite(g_.rules[r].body, /*tail=*/true);
    tail_size_[r] = TailSize(inlined_[r]);
    return inlined_[r];
  }

  // A callee is inlined where the automaton it adds stays small. The automaton builder gives an
  // expression in tail position one fragment per rule however many paths reach it, so a callee
  // used in tail position costs its DAG size (TailSize) and elsewhere its tree size: an
  // exclusion trie for additionalProperties, whose every node ends in the same key tail, becomes
  // one rule with one copy of the tail instead of a rule per node each with its own copy
  // (the median MaskBench schema's automaton was mostly those copies).
  int32_t Rewrite(int32_t e, bool tail) {
    const Expr& x = g_.exprs[e];
    if (x.kind == ExprKind::kRuleRef && !recursive_[x.rule]) {
      int32_t body = Body(x.rule);
      if ((tail ? tail_size_[x.rule] : TreeSize(body)) <= max_size_) return body;
    }
    Expr copy = x;
    for (size_t i = 0; i < copy.children.size(); ++i) {
      bool child_tail = tail && (x.kind == ExprKind::kChoice ||
                                 (x.kind == ExprKind::kSequence && i + 1 == copy.children.size()));
      copy.children[i] = Rewrite(copy.children[i], child_tail);
    }
    return out_.AddExpr(std::move(copy));
  }

  static int64_t Capped(int64_t v) { return std::min<int64_t>(v, int64_t{1} << 40); }

  // Node count of `e` built as a copy (memoised by expression: bodies are shared subtrees).
  int64_t TreeSize(int32_t e) {
    if (static_cast<size_t>(e) < tree_memo_.size() && tree_memo_[e] >= 0) return tree_memo_[e];
    const Expr& x = out_.exprs[e];
    int64_t own = 1 + static_cast<int64_t>(x.bytes.size()) +
                  2 * static_cast<int64_t>(x.ranges.size());
    for (int32_t c : x.children) {
      int64_t child = TreeSize(c);
      own += x.kind == ExprKind::kRepeat
                 ? child * std::max<int64_t>(1, std::min<int64_t>(x.max < 0 ? x.min + 1 : x.max, 8))
                 : child;
    }
    own = Capped(own);
    if (tree_memo_.size() < out_.exprs.size()) tree_memo_.resize(out_.exprs.size(), -1);
    tree_memo_[e] = own;
    return own;
  }

  // Node count of `e` built in tail position: shared tail subexpressions count once. The walk
  // stops once past the inlining limit, so it costs O(max_size_) per rule.
  int64_t TailSize(int32_t root) {
    NewWalk();
    int64_t total = 0;
    std::vector<int32_t> work{root};
    while (!work.empty() && total <= max_size_) {
      int32_t e = work.back();
      work.pop_back();
      if (seen_[e] == gen_) continue;
      seen_[e] = gen_;
      const Expr& x = out_.exprs[e];
      if (x.kind == ExprKind::kChoice) {
        total += 1;
        work.insert(work.end(), x.children.begin(), x.children.end());
      } else if (x.kind == ExprKind::kSequence && !x.children.empty()) {
        total += 1;
        for (size_t i = 0; i + 1 < x.children.size(); ++i) total += TreeSize(x.children[i]);
        work.push_back(x.children.back());
      } else {
        total += TreeSize(e);
      }
    }
    return Capped(total);
  }

  Grammar DropUnreachable() {
    size_t n = out_.rules.size();
    std::vector<int32_t> new_id(n, -1);
    std::vector<int32_t> order{out_.root};
    new_id[out_.root] = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      std::vector<int32_t> refs;
      CollectOutRefs(out_.rules[order[i]].body, &refs);
      for (int32_t x : refs) {
        if (new_id[x] < 0) {
          new_id[x] = static_cast<int32_t>(order.size());
          order.push_back(x);
        }
      }
    }
    Grammar result;
    result.exprs = std::move(out_.exprs);
    for (Expr& x : result.exprs) {
      if (x.kind == ExprKind::kRuleRef) x.rule = new_id[x.rule];
    }
    for (int32_t r : order) result.rules.push_back(out_.rules[r]);
    result.root = 0;
    return result;
  }

  // The rules `root` refers to, in preorder of first appearance. Bodies are DAGs (a tail callee
  // is inlined by its DAG size), whose unfolding as a tree can be exponential: each subtree is
  // visited once.
  void CollectOutRefs(int32_t root, std::vector<int32_t>* out) {
    NewWalk();
    std::vector<int32_t> work{root};
    while (!work.empty()) {
      int32_t e = work.back();
      work.pop_back();
      if (seen_[e] == gen_) continue;
      seen_[e] = gen_;
      const Expr& x = out_.exprs[e];
      if (x.kind == ExprKind::kRuleRef) out->push_back(x.rule);
      work.insert(work.end(), x.children.rbegin(), x.children.rend());
    }
  }

  // Starts a walk of out_ that marks each expression it visits in seen_ (bodies are DAGs).
  void NewWalk() {
    if (seen_.size() < out_.exprs.size()) seen_.resize(out_.exprs.size(), 0);
    ++gen_;
  }

  const Grammar& g_;
  int64_t max_size_;
  std::vector<std::vector<int32_t>> calls_;
  std::vector<bool> recursive_;
  std::vector<int32_t> inlined_;
  std::vector<int64_t> tail_size_;  // by rule; tree sizes are TreeSize of the body
  std::vector<int64_t> tree_memo_;  // by expression of out_, -1 = not yet
  std::vector<uint32_t> seen_;       // visited marks of the current walk, by expression of out_
  uint32_t gen_ = 0;
  Grammar out_;
};

}  // namespace

Grammar InlineRules(const Grammar& g, int64_t max_inlined_size) {
  return Inliner(g, max_inlined_size).Run();
}

}  // namespace formgate

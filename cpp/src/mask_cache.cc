#include "mask_cache.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "pda_runner.h"
#include "token_trie.h"

namespace formgate {

namespace {

enum TokenClass : uint8_t { kRejected = 0, kAccepted = 1, kUncertain = 2 };

// Classifies every text token for a stack [state] above an unknown caller.
// Trie subtrees made only of bytes a state loops on. A stack whose top loops on byte set L
// survives any token of L* (stepping keeps the same node), so such a subtree is accepted whole
// without walking it; for string bodies, names and whitespace that is most of the vocabulary.
struct SelfLoops {
  std::vector<int32_t> loop_of_state;       // index into pure, or -1
  std::vector<std::vector<uint8_t>> pure;   // pure[k][i]: node i's subtree only has bytes of L_k

  SelfLoops(const Automaton& a, const TokenTrie& trie) {
    loop_of_state.assign(a.NumStates(), -1);
    std::vector<ByteSet> sets;
    for (int32_t s = 0; s < a.NumStates(); ++s) {
      if (!a.HasBytes(s)) continue;
      ByteSet loop;
      for (int b = 0; b < 256; ++b) loop[b] = a.Next(s, static_cast<uint8_t>(b)) == s;
      if (loop.count() < 8) continue;  // too narrow to pay for a pass over the trie
      size_t k = std::find(sets.begin(), sets.end(), loop) - sets.begin();
      if (k == sets.size()) sets.push_back(loop);
      loop_of_state[s] = static_cast<int32_t>(k);
    }
    int32_t n = trie.NumNodes();
    for (const ByteSet& loop : sets) {
      std::vector<uint8_t> p(n, 0);
      int32_t next_bad = n;  // the first node at or after i whose byte is outside the loop
      for (int32_t i = n - 1; i >= 1; --i) {
        if (!loop[trie.Node(i).byte]) next_bad = i;
        p[i] = next_bad >= trie.Node(i).subtree_end;
      }
      pure.push_back(std::move(p));
    }
  }
};

class StatePrecheck {
 public:
  StatePrecheck(const Automaton& a, const TokenTrie& trie, const SelfLoops& loops)
      : a_(a), trie_(trie), loops_(loops), runner_(&a, &arena_) {
    int32_t depth = trie.MaxDepth() + 1;
    levels_.resize(depth);
    pending_.resize(depth);
    marks_.resize(depth);
    cls_.resize(trie.NumTokens());
  }

  // `saturated`: the state sits right above its repetition's counter frame, with the minimum
  // reached and an unlimited budget (see MaskCache::ForStateSaturated).
  const std::vector<uint8_t>& Run(int32_t state, bool saturated) {
    std::fill(cls_.begin(), cls_.end(), kRejected);
    arena_.Clear();
    // Returning below the bottom rule is what makes a token uncertain; filter by what may
    // follow that rule. For a saturated precheck with a known continuation, the bottom rule is
    // the continuation's (the repetition itself never returns below).
    int32_t bottom_rule = a_.StateRule(state);
    int32_t parent = kUnknownParent;
    if (saturated) {
      int32_t repeat = a_.RuleRepeat(a_.StateRule(state));
      if (a_.RepeatReturn(repeat) >= 0) bottom_rule = a_.StateRule(a_.RepeatReturn(repeat));
      // With a single continuation, leaving the repetition continues there (above the unknown
      // caller); otherwise leaving counts as returning below (state -1).
      parent = arena_.Intern({a_.RepeatReturn(repeat), kUnknownParent, repeat, kSaturatedCounter});
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
    while (i < end) {
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
    return cls_;
  }

 private:
  bool InLoop(const Frontier& f, int32_t node) const {
    for (int32_t top : f.tops) {
      int32_t k = loops_.loop_of_state[arena_[top].state];
      if (k >= 0 && loops_.pure[k][node]) return true;
    }
    return false;
  }

  void Fill(int32_t begin, int32_t end, TokenClass c) {
    if (c != kRejected) std::fill(cls_.begin() + begin, cls_.begin() + end, c);
  }

  const Automaton& a_;
  const TokenTrie& trie_;
  const SelfLoops& loops_;
  StackArena arena_;
  PdaRunner runner_;
  std::vector<Frontier> levels_;
  std::vector<uint8_t> pending_;
  std::vector<size_t> marks_;
  std::vector<uint8_t> cls_;
};

}  // namespace

MaskCache::MaskCache(const Automaton& a, const TokenizerInfo& tok, int threads) {
  const TokenTrie& trie = tok.Trie();
  int32_t vocab_size = tok.VocabSize();
  int32_t n_words = (vocab_size + 31) / 32;
  const std::vector<int32_t>& universe = trie.IdsAscending();
  text_bits_.assign(n_words, 0);
  for (int32_t id : universe) SetBit(text_bits_.data(), id);

  index_.assign(a.NumStates(), -1);
  saturated_index_.assign(a.NumStates(), -1);
  std::vector<std::pair<int32_t, bool>> jobs;  // (state, saturated)
  for (int32_t s = 0; s < a.NumStates(); ++s) {
    if (!a.HasBytes(s)) continue;
    index_[s] = static_cast<int32_t>(jobs.size());
    jobs.push_back({s, false});
    if (a.RuleRepeat(a.StateRule(s)) >= 0) {
      saturated_index_[s] = static_cast<int32_t>(jobs.size());
      jobs.push_back({s, true});
    }
  }
  const SelfLoops loops(a, trie);
  masks_.resize(jobs.size());
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  auto worker = [&]() {
    try {
      StatePrecheck precheck(a, trie, loops);
      for (size_t k = next++; k < jobs.size(); k = next++) {
        const std::vector<uint8_t>& cls = precheck.Run(jobs[k].first, jobs[k].second);
        std::vector<int32_t> accepted;
        StateMasks& m = masks_[k];
        for (int32_t q = 0; q < trie.NumTokens(); ++q) {
          if (cls[q] == kAccepted) {
            accepted.push_back(trie.TokenAt(q));
          } else if (cls[q] == kUncertain) {
            m.uncertain.push_back(q);
          }
        }
        std::sort(accepted.begin(), accepted.end());
        m.accepted = TokenSet(std::move(accepted), static_cast<int32_t>(universe.size()),
                              universe, vocab_size);
        m.uncertain.shrink_to_fit();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
      next = jobs.size();
    }
  };
  int n_threads = std::max(1, std::min<int>(threads, static_cast<int>(jobs.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < n_threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

size_t MaskCache::MemoryBytes() const {
  size_t n = index_.size() * 4 + text_bits_.size() * 4;
  for (const StateMasks& m : masks_) n += m.accepted.MemoryBytes() + m.uncertain.capacity() * 4;
  return n;
}

}  // namespace formgate

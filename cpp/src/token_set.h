// A set of token ids stored in whichever form is smallest: a sorted id list, a sorted list of
// the text tokens NOT in the set, or a bitset over the vocabulary.
#ifndef FORMGATE_TOKEN_SET_H_
#define FORMGATE_TOKEN_SET_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace formgate {

class TokenSet {
 public:
  TokenSet() = default;
  // `bits`: the members as a bitset of vocab_size bits, `members` of them, all inside
  // `universe_bits` (which holds `universe_count` ids). Costs O(words + size of the chosen form).
  static TokenSet FromBits(std::vector<uint32_t> bits, int32_t members,
                           const uint32_t* universe_bits, int32_t universe_count);

  // words |= set. `universe_bits` is the bitset of the universe (used by the complement form).
  void OrInto(uint32_t* words, const uint32_t* universe_bits, int32_t n_words) const;
  size_t MemoryBytes() const { return ids_.capacity() * 4 + bits_.capacity() * 4; }
  bool Empty() const { return kind_ == kList && ids_.empty(); }

 private:
  enum Kind : uint8_t { kList, kComplement, kBitset };
  Kind kind_ = kList;
  std::vector<int32_t> ids_;
  std::vector<uint32_t> bits_;
};

inline void SetBit(uint32_t* words, int32_t id) { words[id >> 5] |= 1u << (id & 31); }
inline bool GetBit(const uint32_t* words, int32_t id) { return (words[id >> 5] >> (id & 31)) & 1u; }

}  // namespace formgate

#endif  // FORMGATE_TOKEN_SET_H_

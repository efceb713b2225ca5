// Errors the core throws. The binding layer turns them into formgate.GrammarError / LimitError.
//
// A GrammarError carries the 1-based line and column (in code points) of the problem in the
// grammar text, or 0/0 when the problem has no single position (e.g. "no rule named root").
#ifndef FORMGATE_ERROR_H_
#define FORMGATE_ERROR_H_

#include <stdexcept>
#include <string>

namespace formgate {

class GrammarError : public std::runtime_error {
 public:
  GrammarError(std::string cause, int line, int column, std::string excerpt)
      : std::runtime_error(Format(cause, line, column, excerpt)),
        cause_(std::move(cause)),
        line_(line),
        column_(column) {}
  const std::string& cause() const { return cause_; }
  int line() const { return line_; }
  int column() const { return column_; }

 private:
  static std::string Format(const std::string& cause, int line, int column,
                            const std::string& excerpt) {
    if (line <= 0) return cause;
    std::string s = "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " +
                    cause;
    if (!excerpt.empty()) s += "\n" + excerpt;
    return s;
  }
  std::string cause_;
  int line_, column_;
};

// A documented resource limit was exceeded; raised in bounded time instead of hanging.
class LimitError : public GrammarError {
 public:
  explicit LimitError(std::string cause, int line = 0, int column = 0, std::string excerpt = "")
      : GrammarError(std::move(cause), line, column, std::move(excerpt)) {}
};

}  // namespace formgate

#endif  // FORMGATE_ERROR_H_

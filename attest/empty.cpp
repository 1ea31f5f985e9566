// Keeps a library target valid before its first source file exists (CMake refuses empty ones).

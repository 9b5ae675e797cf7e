#include "runtime.h"

void exit(int code) { exit_guest(code); }

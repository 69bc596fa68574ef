#include "privs.h"

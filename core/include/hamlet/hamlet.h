/* Everything a hamlet module needs: #include <hamlet/hamlet.h> */
#ifndef HAMLET_HAMLET_H
#define HAMLET_HAMLET_H
#include <hamlet/types.h>
#include <hamlet/conf.h>
#include <hamlet/module.h>
#include <hamlet/hook.h>
#include <hamlet/api.h>
#endif

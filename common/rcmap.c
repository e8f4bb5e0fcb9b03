#include "rcmap.h"

#include <stddef.h>
#include <string.h>

#include "err.h"

#define OUT(x)	FWFLEET__INSTALL_OUTCOME__OUTCOME_##x

static const struct {
	Fwfleet__InstallOutcome outcome;
	const char *name;
} outcome_names[] = {
	{ OUT(SUCCESS), "success" },
	{ OUT(SUCCESS_REBOOT), "success-reboot-required" },
	{ OUT(ALREADY_CURRENT), "already-current" },
	{ OUT(NOT_APPLICABLE), "not-applicable" },
	{ OUT(FAILED), "failed" },
};

/* Named conventions: the outcome of codes 0..7; others fail. */
static const struct {
	const char *name;
	Fwfleet__InstallOutcome codes[8];
} conventions[] = {
	{ "hp-linux", { OUT(SUCCESS), OUT(SUCCESS_REBOOT),
	    OUT(ALREADY_CURRENT), OUT(FAILED), OUT(FAILED), OUT(FAILED),
	    OUT(FAILED), OUT(FAILED) } },
	{ "hp-linux-multi", { OUT(SUCCESS), OUT(SUCCESS_REBOOT),
	    OUT(ALREADY_CURRENT), OUT(NOT_APPLICABLE), OUT(FAILED),
	    OUT(FAILED), OUT(FAILED), OUT(FAILED) } },
	{ "hp-windows", { OUT(FAILED), OUT(SUCCESS), OUT(SUCCESS_REBOOT),
	    OUT(NOT_APPLICABLE), OUT(FAILED), OUT(FAILED), OUT(FAILED),
	    OUT(FAILED) } },
	{ "rpm", { OUT(SUCCESS), OUT(FAILED), OUT(FAILED), OUT(FAILED),
	    OUT(FAILED), OUT(FAILED), OUT(FAILED), OUT(FAILED) } },
};

#define N_CONVENTIONS	(sizeof(conventions) / sizeof(conventions[0]))

static int convention_index(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < N_CONVENTIONS; i++) {
		if (strcmp(conventions[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

int rcmap_convention_known(const char *name)
{
	return convention_index(name) >= 0;
}

static int outcome_valid(Fwfleet__InstallOutcome o)
{
	return o >= OUT(SUCCESS) && o <= OUT(FAILED);
}

static int is_custom(const Fwfleet__ReturnCodeMap *map)
{
	return map->convention == NULL || map->convention[0] == '\0';
}

static Fwfleet__InstallOutcome custom_outcome(const Fwfleet__ReturnCodeMap *map,
    int exit_code)
{
	size_t i;

	for (i = 0; i < map->n_codes; i++) {
		if (map->codes[i] != NULL && map->codes[i]->key == exit_code)
			return outcome_valid(map->codes[i]->value) ?
			    map->codes[i]->value : OUT(FAILED);
	}
	return outcome_valid(map->default_outcome) ? map->default_outcome :
	    OUT(FAILED);
}

Fwfleet__InstallOutcome rcmap_outcome(const Fwfleet__ReturnCodeMap *map,
    int exit_code)
{
	int c;

	if (exit_code < 0)
		return OUT(FAILED);
	if (map != NULL && is_custom(map))
		return custom_outcome(map, exit_code);
	c = map == NULL ? 0 : convention_index(map->convention);
	if (c < 0 || exit_code >= 8)
		return OUT(FAILED);
	return conventions[c].codes[exit_code];
}

int rcmap_check(const Fwfleet__ReturnCodeMap *map)
{
	size_t i;

	if (map == NULL)
		return 0;
	if (!is_custom(map))
		return rcmap_convention_known(map->convention) ? 0 :
		    FW_ERR_INVALID;
	for (i = 0; i < map->n_codes; i++) {
		if (map->codes[i] == NULL ||
		    !outcome_valid(map->codes[i]->value))
			return FW_ERR_INVALID;
	}
	if (map->default_outcome != OUT(UNKNOWN) &&
	    !outcome_valid(map->default_outcome))
		return FW_ERR_INVALID;
	return 0;
}

const char *rcmap_outcome_name(Fwfleet__InstallOutcome o)
{
	size_t i;

	for (i = 0; i < sizeof(outcome_names) / sizeof(outcome_names[0]); i++) {
		if (outcome_names[i].outcome == o)
			return outcome_names[i].name;
	}
	return "unknown";
}

int rcmap_outcome_parse(const char *name, Fwfleet__InstallOutcome *out)
{
	size_t i;

	*out = OUT(UNKNOWN);
	for (i = 0; name != NULL &&
	    i < sizeof(outcome_names) / sizeof(outcome_names[0]); i++) {
		if (strcmp(outcome_names[i].name, name) == 0) {
			*out = outcome_names[i].outcome;
			return 0;
		}
	}
	return FW_ERR_INVALID;
}

/* SPDX-License-Identifier: MIT */
/* list.h — the one intrusive doubly-linked list of the library.
 *
 * A list is a circular chain through a head node: an empty list's head
 * points at itself, so inserting and removing never test for the ends, and
 * a node can unlink itself without knowing which list holds it.  The
 * element embeds a weft_list_node and is found from it with
 * WEFT_LIST_ENTRY.  No locking: the owner of the list guards it.
 */
#ifndef WEFT_LIST_H
#define WEFT_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct weft_list_node {
    struct weft_list_node *prev, *next;
} weft_list_node;

/* A list's head; static initialisation: weft_list l = WEFT_LIST_INIT(l); */
typedef weft_list_node weft_list;
#define WEFT_LIST_INIT(name) { &(name), &(name) }

/* The element of type `type` whose member `member` is node. */
#define WEFT_LIST_ENTRY(node, type, member)                                      \
    ((type *)(void *)((char *)(node) - offsetof(type, member)))

/* Walk every node; `node` may be removed from the list inside the body
 * (the next one is read first). */
#define WEFT_LIST_FOR_EACH(node, next_, list)                                    \
    for (weft_list_node *node = (list)->next, *next_ = node->next; node != (list); \
         node = next_, next_ = node->next)

static inline void weft__list_init(weft_list *list) { list->prev = list->next = list; }

static inline bool weft__list_empty(const weft_list *list) { return list->next == list; }

/* A node not in any list (after weft__list_node_init or removal). */
static inline void weft__list_node_init(weft_list_node *node) { node->prev = node->next = node; }

static inline bool weft__list_linked(const weft_list_node *node) { return node->next != node; }

static inline void weft__list_insert_between(weft_list_node *node, weft_list_node *prev,
                                            weft_list_node *next)
{
    node->prev = prev;
    node->next = next;
    prev->next = node;
    next->prev = node;
}

static inline void weft__list_push_back(weft_list *list, weft_list_node *node)
{
    weft__list_insert_between(node, list->prev, list);
}

static inline void weft__list_push_front(weft_list *list, weft_list_node *node)
{
    weft__list_insert_between(node, list, list->next);
}

/* Unlink node; it reads as not linked afterwards.  Removing a node that is
 * not linked does nothing. */
static inline void weft__list_remove(weft_list_node *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    weft__list_node_init(node);
}

/* The first / last node, or NULL when empty. */
static inline weft_list_node *weft__list_first(const weft_list *list)
{
    return weft__list_empty(list) ? NULL : list->next;
}

static inline weft_list_node *weft__list_last(const weft_list *list)
{
    return weft__list_empty(list) ? NULL : list->prev;
}

/* Remove and return the first node, or NULL when empty. */
static inline weft_list_node *weft__list_pop_front(weft_list *list)
{
    weft_list_node *node = weft__list_first(list);
    if (node)
        weft__list_remove(node);
    return node;
}

#endif

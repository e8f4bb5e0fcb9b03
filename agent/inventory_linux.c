/* placeholder: replaced by the inventory providers */

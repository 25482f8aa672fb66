standard_error_message = 'This module requires an "attribute" field as input'
